use tollgate_aggregates::organization::OrganizationEvent as E;

use super::Tx;
use crate::{Result, StoredEvent};

pub(super) async fn apply(tx: &mut Tx<'_>, ev: &StoredEvent, event: &E) -> Result<Option<String>> {
    let org = ev.aggregate_id.as_str();
    let at = ev.recorded_at;
    let touch = |sql: &'static str| sqlx::query(sql).bind(at).bind(org);
    match event {
        E::OrganizationCreated {
            name,
            project_limit,
        } => {
            sqlx::query(
                "INSERT INTO rm_organizations (id, name, project_limit, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(org)
            .bind(name)
            .bind(i64::from(*project_limit))
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        E::MemberAdded {
            member_id,
            email,
            role,
            token_hash,
        } => {
            sqlx::query(
                "INSERT INTO rm_members (id, organization_id, email, role, token_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(member_id)
            .bind(org)
            .bind(email)
            .bind(role.as_str())
            .bind(token_hash)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        E::MemberRoleChanged { member_id, role } => {
            sqlx::query("UPDATE rm_members SET role = $1 WHERE id = $2")
                .bind(role.as_str())
                .bind(member_id)
                .execute(&mut **tx)
                .await?;
        }
        E::MemberRemoved { member_id } => {
            sqlx::query("DELETE FROM rm_members WHERE id = $1")
                .bind(member_id)
                .execute(&mut **tx)
                .await?;
        }
        E::ProjectLimitChanged { project_limit } => {
            sqlx::query(
                "UPDATE rm_organizations SET project_limit = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(i64::from(*project_limit))
            .bind(at)
            .bind(org)
            .execute(&mut **tx)
            .await?;
        }
        E::CreditsAdded {
            amount_nano_usd,
            reference,
        } => {
            sqlx::query(concat!(
                "UPDATE rm_organizations SET credits_nano_usd = ",
                super::clamped_sum!("credits_nano_usd + $1"),
                ", updated_at = $2 WHERE id = $3"
            ))
            .bind(*amount_nano_usd)
            .bind(at)
            .bind(org)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO rm_credit_grants (position, organization_id, amount_nano_usd, reference, \
                 actor, granted_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ev.position)
            .bind(org)
            .bind(*amount_nano_usd)
            .bind(reference)
            .bind(ev.meta("actor").unwrap_or_else(|| "unknown".into()))
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        E::ProjectSlotTaken { .. } => {
            touch("UPDATE rm_organizations SET live_projects = live_projects + 1, updated_at = $1 WHERE id = $2")
                .execute(&mut **tx)
                .await?;
        }
        E::ProjectSlotReleased { .. } => {
            touch("UPDATE rm_organizations SET live_projects = live_projects - 1, updated_at = $1 WHERE id = $2")
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(Some(org.to_string()))
}
