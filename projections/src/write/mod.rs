//! Applying one event to the read models, inside the projector's transaction.

mod api_key;
mod organization;
mod project;
mod usage;

use sqlx::{Any, Transaction};
use tollgate_aggregates::api_key::ApiKey;
use tollgate_aggregates::organization::Organization;
use tollgate_aggregates::project::Project;
use tollgate_aggregates::usage::USAGE_AGGREGATE_TYPE;

use cqrs_es::Aggregate;

use crate::{Result, StoredEvent};

pub(crate) type Tx<'a> = Transaction<'a, Any>;

pub(crate) async fn apply(tx: &mut Tx<'_>, event: &StoredEvent) -> Result<()> {
    let organization_id = match event.aggregate_type.as_str() {
        Organization::TYPE => organization::apply(tx, event, &event.decode()?).await?,
        Project::TYPE => project::apply(tx, event, &event.decode()?).await?,
        ApiKey::TYPE => api_key::apply(tx, event, &event.decode()?).await?,
        USAGE_AGGREGATE_TYPE => usage::apply(tx, event, &event.decode()?).await?,
        // Unknown streams (from newer versions) still enter the audit index.
        _ => None,
    };
    sqlx::query(
        "INSERT INTO rm_audit (position, organization_id, aggregate_type, aggregate_id, sequence, \
         event_type, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.position)
    .bind(organization_id)
    .bind(&event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(event.sequence)
    .bind(&event.event_type)
    .bind(event.recorded_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The organization a row of `table` belongs to (projects and keys carry it).
pub(crate) async fn owner_of(tx: &mut Tx<'_>, table: &str, id: &str) -> Result<Option<String>> {
    use sqlx::Row;
    let row = sqlx::query(&format!(
        "SELECT organization_id FROM {table} WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.try_get("organization_id")).transpose()?)
}
