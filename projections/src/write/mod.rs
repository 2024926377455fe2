//! Applying one event to the read models, inside the projector's transaction.

/// SQL for a money sum kept within `[-MAX_NANOS, MAX_NANOS]` (the same on SQLite and Postgres):
/// each operand is within that range, so the sum itself cannot overflow a BIGINT, and the
/// projector never stops on an out-of-range total.
macro_rules! clamped_sum {
    ($e:literal) => {
        concat!(
            "CASE WHEN ",
            $e,
            " > 1000000000000000000 THEN 1000000000000000000 WHEN ",
            $e,
            " < -1000000000000000000 THEN -1000000000000000000 ELSE ",
            $e,
            " END"
        )
    };
}
pub(crate) use clamped_sum;

mod api_key;
mod bulk;
mod copy;
mod daily;
mod organization;
mod pg_array;
mod project;
mod spend;
mod webhook;

use sqlx::{Any, Transaction};
use tollgate_aggregates::alert::Alert;
use tollgate_aggregates::api_key::ApiKey;
use tollgate_aggregates::organization::Organization;
use tollgate_aggregates::period::{PeriodBudget, RateLimits};
use tollgate_aggregates::project::Project;
use tollgate_aggregates::usage::{UsageEvent, UsageRecord, USAGE_AGGREGATE_TYPE};
use tollgate_aggregates::webhook::Webhook;

use cqrs_es::Aggregate;

pub(crate) use bulk::Bulk;
use pg_array::Val;

use crate::{Result, StoredEvent};

pub(crate) type Tx<'a> = Transaction<'a, Any>;

/// `handed`: a usage event's records as the process that wrote it still holds them (see
/// `Projector::append_usage`), which spares decoding them again.
pub(crate) async fn apply(
    tx: &mut Tx<'_>,
    bulk: &mut Bulk,
    event: &StoredEvent,
    handed: Option<Vec<UsageRecord>>,
) -> Result<()> {
    let organization_id = match event.aggregate_type.as_str() {
        Organization::TYPE => organization::apply(tx, event, &event.decode()?).await?,
        Project::TYPE => project::apply(tx, event, &event.decode()?).await?,
        ApiKey::TYPE => api_key::apply(tx, event, &event.decode()?).await?,
        Webhook::TYPE => webhook::apply(tx, event, &event.decode()?).await?,
        Alert::TYPE => webhook::apply_alert(tx, event, &event.decode()?).await?,
        USAGE_AGGREGATE_TYPE => return apply_usage(bulk, event, handed),
        // Unknown streams (from newer versions) still enter the audit index.
        _ => None,
    };
    audit(bulk, event, organization_id);
    Ok(())
}

/// A usage event: only rows gathered for the batch's end, no statement of its own.
pub(crate) fn apply_usage(
    bulk: &mut Bulk,
    event: &StoredEvent,
    handed: Option<Vec<UsageRecord>>,
) -> Result<()> {
    let records = match handed {
        Some(records) => records,
        None => {
            let UsageEvent::UsageRecorded { records } = event.decode()?;
            records
        }
    };
    let organization_id = records.first().map(|r| r.organization_id.clone());
    for (i, r) in records.into_iter().enumerate() {
        bulk.usage(event.position, i, r);
    }
    audit(bulk, event, organization_id);
    Ok(())
}

fn audit(bulk: &mut Bulk, event: &StoredEvent, organization_id: Option<String>) {
    bulk.audit(vec![
        Val::I(event.position),
        Val::OT(organization_id),
        Val::T(event.aggregate_type.clone()),
        Val::T(event.aggregate_id.clone()),
        Val::I(event.sequence),
        Val::T(event.event_type.clone()),
        Val::I(event.recorded_at),
    ]);
}

/// A key's or a project's period budget (`table` is one of the two).
pub(crate) async fn set_period_budget(
    tx: &mut Tx<'_>,
    table: &str,
    id: &str,
    budget: &Option<PeriodBudget>,
    at: i64,
) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE {table} SET period_limit_nano_usd = $1, period = $2, updated_at = $3 WHERE id = $4"
    ))
    .bind(budget.map(|b| b.limit_nano_usd))
    .bind(budget.map(|b| b.period.as_str()))
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A key's or a project's rate limits (`table` is one of the two).
pub(crate) async fn set_rate_limits(
    tx: &mut Tx<'_>,
    table: &str,
    id: &str,
    limits: &RateLimits,
    at: i64,
) -> Result<()> {
    let n = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    sqlx::query(&format!(
        "UPDATE {table} SET requests_per_minute = $1, tokens_per_minute = $2, updated_at = $3 \
         WHERE id = $4"
    ))
    .bind(n(limits.requests_per_minute))
    .bind(n(limits.tokens_per_minute))
    .bind(at)
    .bind(id)
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

#[cfg(test)]
mod money_tests {
    #[test]
    fn the_sql_ceiling_is_the_money_ceiling() {
        let sql = clamped_sum!("a + b");
        let ceiling = tollgate_aggregates::types::MAX_NANOS.to_string();
        assert_eq!(sql.matches(&ceiling).count(), 4, "{sql}");
    }
}
