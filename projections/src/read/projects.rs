use sqlx::any::AnyRow;
use sqlx::Row;

use tollgate_aggregates::fallbacks::Fallbacks;
use tollgate_aggregates::period::{PeriodBudget, RateLimits};
use tollgate_aggregates::types::ProjectMode;
use tollgate_aggregates::Provider;

use super::{flag, period_budget, rate_limits, typed};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub description: String,
    pub mode: ProjectMode,
    pub caching_enabled: bool,
    pub cache_duration_seconds: i64,
    pub archived: bool,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
    pub fallbacks: Fallbacks,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A provider key as the read model holds it: the secret only as ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderKeyRow {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub provider: Provider,
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub encrypted_key: String,
    pub last4: String,
    pub enabled: bool,
    pub created_at: i64,
}

fn project_row(r: &AnyRow) -> Result<ProjectRow> {
    Ok(ProjectRow {
        id: r.try_get("id")?,
        organization_id: r.try_get("organization_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        mode: typed(r, "rm_projects.mode", ProjectMode::parse)?,
        caching_enabled: flag(r, "caching_enabled")?,
        cache_duration_seconds: r.try_get("cache_duration_seconds")?,
        archived: flag(r, "archived")?,
        period_budget: period_budget(r, "rm_projects.period")?,
        rate_limits: rate_limits(r)?,
        fallbacks: fallbacks(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The chains as written by the projector (JSON), checked as they are read.
fn fallbacks(r: &AnyRow) -> Result<Fallbacks> {
    let text: String = r.try_get("fallbacks")?;
    serde_json::from_str(&text).map_err(|_| crate::Error::UnknownValue {
        column: "rm_projects.fallbacks",
        value: text,
    })
}

fn provider_key_row(r: &AnyRow) -> Result<ProviderKeyRow> {
    Ok(ProviderKeyRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        organization_id: r.try_get("organization_id")?,
        provider: typed(r, "rm_provider_keys.provider", Provider::parse)?,
        name: r.try_get("name")?,
        base_url: r.try_get("base_url")?,
        encrypted_key: r.try_get("encrypted_key")?,
        last4: r.try_get("last4")?,
        enabled: flag(r, "enabled")?,
        created_at: r.try_get("created_at")?,
    })
}

/// A project, archived or not (callers treat archived as gone).
pub async fn project(db: &Db, id: &str) -> Result<Option<ProjectRow>> {
    let row = sqlx::query("SELECT * FROM rm_projects WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(project_row).transpose()
}

/// The organization's live projects, oldest first.
pub async fn projects_of(db: &Db, organization_id: &str) -> Result<Vec<ProjectRow>> {
    let rows = sqlx::query(
        "SELECT * FROM rm_projects WHERE organization_id = $1 AND archived = 0 \
         ORDER BY created_at, id",
    )
    .bind(organization_id)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(project_row).collect()
}

pub async fn provider_keys_of(db: &Db, project_id: &str) -> Result<Vec<ProviderKeyRow>> {
    let rows =
        sqlx::query("SELECT * FROM rm_provider_keys WHERE project_id = $1 ORDER BY created_at, id")
            .bind(project_id)
            .fetch_all(&db.any)
            .await?;
    rows.iter().map(provider_key_row).collect()
}

pub async fn provider_key(db: &Db, id: &str) -> Result<Option<ProviderKeyRow>> {
    let row = sqlx::query("SELECT * FROM rm_provider_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(provider_key_row).transpose()
}
