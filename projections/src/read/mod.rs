//! Queries over the read models. Every lookup takes the organization into account at the
//! call site: the API compares `organization_id` before it shows anything.

mod audit;
mod keys;
mod organizations;
mod projects;
mod proxy;
mod usage;

pub use audit::{audit_page, dump, AuditEntry, AuditFilter};
pub use keys::{api_key, api_keys_of, iam_rules, key_tokens, ApiKeyRow, KeyToken};
pub use organizations::{
    credit_grants, member, member_by_token_hash, members_of, organization, CreditGrantRow,
    MemberRow, OrganizationRow,
};
pub use projects::{
    project, projects_of, provider_key, provider_keys_of, ProjectRow, ProviderKeyRow,
};
pub use proxy::{proxy_snapshot, ProxySnapshot};
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
