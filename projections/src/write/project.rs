use tollgate_aggregates::project::ProjectEvent as E;

use super::{owner_of, Tx};
use crate::{Result, StoredEvent};

/// Sets one column of the project row and its update time.
async fn set(tx: &mut Tx<'_>, ev: &StoredEvent, column: &str, value: impl ToString) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE rm_projects SET {column} = $1, updated_at = $2 WHERE id = $3"
    ))
    .bind(value.to_string())
    .bind(ev.recorded_at)
    .bind(&ev.aggregate_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn apply(tx: &mut Tx<'_>, ev: &StoredEvent, event: &E) -> Result<Option<String>> {
    let id = ev.aggregate_id.as_str();
    let at = ev.recorded_at;
    match event {
        E::ProjectCreated {
            organization_id,
            name,
            description,
            mode,
            caching_enabled,
            cache_duration_seconds,
        } => {
            sqlx::query(
                "INSERT INTO rm_projects (id, organization_id, name, description, mode, caching_enabled, \
                 cache_duration_seconds, archived, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
            )
            .bind(id)
            .bind(organization_id)
            .bind(name)
            .bind(description)
            .bind(mode.as_str())
            .bind(i64::from(*caching_enabled))
            .bind(i64::from(*cache_duration_seconds))
            .bind(at)
            .execute(&mut **tx)
            .await?;
            return Ok(Some(organization_id.clone()));
        }
        E::ProjectRenamed { name } => set(tx, ev, "name", name).await?,
        E::ProjectDescriptionChanged { description } => {
            set(tx, ev, "description", description).await?
        }
        E::ModeChanged { mode } => set(tx, ev, "mode", mode.as_str()).await?,
        E::CachingConfigured {
            enabled,
            duration_seconds,
        } => {
            sqlx::query(
                "UPDATE rm_projects SET caching_enabled = $1, cache_duration_seconds = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(i64::from(*enabled))
            .bind(i64::from(*duration_seconds))
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        E::ProviderKeyAdded {
            provider_key_id,
            provider,
            name,
            base_url,
            encrypted_key,
            last4,
        } => {
            let org = owner_of(tx, "rm_projects", id).await?;
            sqlx::query(
                "INSERT INTO rm_provider_keys (id, project_id, organization_id, provider, name, base_url, \
                 encrypted_key, last4, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)",
            )
            .bind(provider_key_id)
            .bind(id)
            .bind(org.clone().unwrap_or_default())
            .bind(provider)
            .bind(name.clone())
            .bind(base_url.clone())
            .bind(encrypted_key)
            .bind(last4)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            return Ok(org);
        }
        E::ProviderKeyDisabled { provider_key_id } | E::ProviderKeyEnabled { provider_key_id } => {
            let enabled = matches!(event, E::ProviderKeyEnabled { .. });
            sqlx::query("UPDATE rm_provider_keys SET enabled = $1 WHERE id = $2")
                .bind(i64::from(enabled))
                .bind(provider_key_id)
                .execute(&mut **tx)
                .await?;
        }
        E::ProviderKeyRemoved { provider_key_id } => {
            sqlx::query("DELETE FROM rm_provider_keys WHERE id = $1")
                .bind(provider_key_id)
                .execute(&mut **tx)
                .await?;
        }
        E::ProjectRateLimitsSet { limits } => {
            super::set_rate_limits(tx, "rm_projects", id, limits, at).await?;
        }
        E::ProjectFallbacksSet { fallbacks } => {
            // A map of strings always serializes.
            let json = serde_json::to_string(fallbacks).unwrap_or_else(|_| "{}".into());
            set(tx, ev, "fallbacks", json).await?;
        }
        E::ProjectPeriodBudgetSet { budget } => {
            super::set_period_budget(tx, "rm_projects", id, budget, at).await?;
        }
        E::ProjectArchived => {
            sqlx::query("UPDATE rm_projects SET archived = 1, updated_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    owner_of(tx, "rm_projects", id).await
}
