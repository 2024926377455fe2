//! Queries over the read models. Every lookup takes the organization into account at the
//! call site: the API compares `organization_id` before it shows anything.

mod audit;
mod keys;
mod organizations;
mod projects;
mod proxy;
mod usage;
mod webhooks;

pub use audit::{audit_page, dump, AuditEntry, AuditFilter};
pub use keys::{api_key, api_keys_of, iam_rules, key_tokens, ApiKeyRow, KeyToken};
pub use organizations::{
    credit_grants, member, member_by_token_hash, members_of, organization, organizations,
    CreditGrantRow, MemberRow, OrganizationRow,
};
pub use projects::{
    project, projects_of, provider_key, provider_keys_of, ProjectRow, ProviderKeyRow,
};
pub use proxy::{proxy_snapshot, ProxySnapshot};
pub use webhooks::{
    alert_attempts, alerts_due, alerts_of, credit_grant_count, live_webhooks, webhook, webhooks_of,
    AlertRow, AttemptRow, WebhookRow,
};

pub use usage::{
    recorded_requests, spend, usage_logs, usage_summary, GroupBy, UsageFilter, UsageGroup,
    UsageLogRow,
};

use sqlx::any::AnyRow;
use sqlx::Row;

/// Reads a 0/1 flag column.
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// A text column holding one of an enum's values, parsed: an unknown value fails loudly
/// (the read model and the code disagree) instead of falling back to a default.
pub(crate) fn typed<T>(
    row: &AnyRow,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> crate::Result<T> {
    let name = column.rsplit('.').next().unwrap_or(column);
    let text: String = row.try_get(name)?;
    parse(&text).ok_or(crate::Error::UnknownValue {
        column,
        value: text,
    })
}

/// A period budget from its two columns: both set, or none.
pub(crate) fn period_budget(
    row: &AnyRow,
    table: &'static str,
) -> crate::Result<Option<tollgate_aggregates::period::PeriodBudget>> {
    use tollgate_aggregates::period::{Period, PeriodBudget};
    let limit: Option<i64> = row.try_get("period_limit_nano_usd")?;
    let period: Option<String> = row.try_get("period")?;
    match (limit, period) {
        (Some(limit_nano_usd), Some(p)) => {
            let period = Period::parse(&p).ok_or(crate::Error::UnknownValue {
                column: table,
                value: p,
            })?;
            Ok(Some(PeriodBudget {
                limit_nano_usd,
                period,
            }))
        }
        _ => Ok(None),
    }
}

/// What `scope` (`key` or `project`) `id` spent from `since` (Unix seconds, an hour's start).
pub async fn period_spend(db: &crate::Db, scope: &str, id: &str, since: i64) -> crate::Result<i64> {
    let rows = sqlx::query(
        "SELECT cost_nano_usd FROM rm_spend_hourly WHERE scope = $1 AND id = $2 AND hour_start >= $3",
    )
    .bind(scope)
    .bind(id)
    .bind(since)
    .fetch_all(&db.any)
    .await?;
    let mut total = 0i64;
    for r in rows {
        total = tollgate_aggregates::types::add_nanos(total, r.try_get("cost_nano_usd")?);
    }
    Ok(total)
}

/// Rate limits from their two columns.
pub(crate) fn rate_limits(row: &AnyRow) -> crate::Result<tollgate_aggregates::period::RateLimits> {
    let n = |col: &str| -> crate::Result<Option<u64>> {
        Ok(row
            .try_get::<Option<i64>, _>(col)?
            .map(|v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(tollgate_aggregates::period::RateLimits {
        requests_per_minute: n("requests_per_minute")?,
        tokens_per_minute: n("tokens_per_minute")?,
    })
}
