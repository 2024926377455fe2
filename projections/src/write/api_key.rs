use tollgate_aggregates::api_key::ApiKeyEvent as E;
use tollgate_aggregates::types::IamRule;

use super::{owner_of, Tx};
use crate::{Result, StoredEvent};

pub(super) async fn apply(tx: &mut Tx<'_>, ev: &StoredEvent, event: &E) -> Result<Option<String>> {
    let id = ev.aggregate_id.as_str();
    let at = ev.recorded_at;
    match event {
        E::ApiKeyCreated {
            project_id,
            organization_id,
            description,
            token_hash,
            prefix,
            usage_limit_nano_usd,
            created_by,
        } => {
            sqlx::query(
                "INSERT INTO rm_api_keys (id, project_id, organization_id, description, prefix, status, \
                 usage_limit_nano_usd, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(project_id)
            .bind(organization_id)
            .bind(description)
            .bind(prefix)
            .bind(*usage_limit_nano_usd)
            .bind(created_by)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            insert_token(tx, token_hash, id, None).await?;
            return Ok(Some(organization_id.clone()));
        }
        E::KeyDescriptionChanged { description } => {
            sqlx::query("UPDATE rm_api_keys SET description = $1, updated_at = $2 WHERE id = $3")
                .bind(description)
                .bind(at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        E::UsageLimitSet {
            usage_limit_nano_usd,
        } => {
            sqlx::query(
                "UPDATE rm_api_keys SET usage_limit_nano_usd = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(*usage_limit_nano_usd)
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        E::KeyRateLimitsSet { limits } => {
            super::set_rate_limits(tx, "rm_api_keys", id, limits, at).await?;
        }
        E::KeyPeriodBudgetSet { budget } => {
            super::set_period_budget(tx, "rm_api_keys", id, budget, at).await?;
        }
        E::KeyExpirySet { expires_at } => {
            sqlx::query("UPDATE rm_api_keys SET expires_at = $1, updated_at = $2 WHERE id = $3")
                .bind(*expires_at)
                .bind(at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        E::KeyStatusChanged { status } => {
            sqlx::query("UPDATE rm_api_keys SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(status.as_str())
                .bind(at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        E::KeyRotated {
            token_hash,
            prefix,
            previous_token_hash,
            previous_valid_until,
        } => {
            // Earlier rotated tokens keep their own deadlines; the previous current one gets its
            // grace deadline, or goes at once.
            match previous_valid_until {
                Some(until) => {
                    sqlx::query("UPDATE rm_key_tokens SET valid_until = $1 WHERE token_hash = $2")
                        .bind(*until)
                        .bind(previous_token_hash)
                        .execute(&mut **tx)
                        .await?;
                }
                None => {
                    sqlx::query("DELETE FROM rm_key_tokens WHERE token_hash = $1")
                        .bind(previous_token_hash)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            insert_token(tx, token_hash, id, None).await?;
            sqlx::query("UPDATE rm_api_keys SET prefix = $1, updated_at = $2 WHERE id = $3")
                .bind(prefix)
                .bind(at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        E::IamRulesSet { rules } => {
            sqlx::query("DELETE FROM rm_iam_rules WHERE key_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            for (position, rule) in rules.iter().enumerate() {
                insert_rule(tx, id, position as i64, rule).await?;
            }
        }
        E::KeyRevoked => {
            // A revoked key leaves the read models entirely; its history stays in the log.
            for table in ["rm_key_tokens", "rm_iam_rules"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE key_id = $1"))
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            let org = owner_of(tx, "rm_api_keys", id).await?;
            sqlx::query("DELETE FROM rm_api_keys WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            return Ok(org);
        }
    }
    owner_of(tx, "rm_api_keys", id).await
}

async fn insert_token(tx: &mut Tx<'_>, hash: &str, key_id: &str, until: Option<i64>) -> Result<()> {
    sqlx::query("INSERT INTO rm_key_tokens (token_hash, key_id, valid_until) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(key_id)
        .bind(until)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Prices are stored as integer nano-USD per million tokens (exact for any catalog price).
fn to_nanos(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

async fn insert_rule(tx: &mut Tx<'_>, key_id: &str, position: i64, rule: &IamRule) -> Result<()> {
    let (targets, pricing) = match rule {
        IamRule::AllowModels { models: t }
        | IamRule::DenyModels { models: t }
        | IamRule::AllowProviders { providers: t }
        | IamRule::DenyProviders { providers: t } => {
            (Some(serde_json::to_string(t).unwrap_or_default()), None)
        }
        IamRule::AllowPricing {
            pricing_type,
            max_input_usd_per_mtok,
            max_output_usd_per_mtok,
        }
        | IamRule::DenyPricing {
            pricing_type,
            max_input_usd_per_mtok,
            max_output_usd_per_mtok,
        } => (
            None,
            Some((
                *pricing_type,
                *max_input_usd_per_mtok,
                *max_output_usd_per_mtok,
            )),
        ),
    };
    let pricing_type = pricing.map(|p| match p.0 {
        tollgate_aggregates::types::PricingType::Free => "free",
        tollgate_aggregates::types::PricingType::Paid => "paid",
    });
    sqlx::query(
        "INSERT INTO rm_iam_rules (key_id, position, rule_type, targets, pricing_type, \
         max_input_nano_usd_per_mtok, max_output_nano_usd_per_mtok) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key_id)
    .bind(position)
    .bind(rule.kind())
    .bind(targets)
    .bind(pricing_type)
    .bind(pricing.and_then(|p| p.1).map(to_nanos))
    .bind(pricing.and_then(|p| p.2).map(to_nanos))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
