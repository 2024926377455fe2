//! The API's response shapes, built from read-model rows (money as USD, times as RFC 3339).

use super::budget::{rates, settings, Rates, Spend};
use serde::Serialize;
use tollgate_projections::read::{
    ApiKeyRow, CreditGrantRow, MemberRow, OrganizationRow, ProjectRow, ProviderKeyRow,
};
use utoipa::ToSchema;

/// The units' conversions, where the response shapes' callers have always found them.
pub use super::units::{nanos, parse_time, time, time_of_secs, usd};

#[derive(Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub project_limit: i64,
    pub project_count: i64,
    pub credits_usd: f64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<OrganizationRow> for Organization {
    fn from(r: OrganizationRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            project_limit: r.project_limit,
            project_count: r.live_projects,
            credits_usd: usd(r.credits_nano_usd),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
    pub created_at: String,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Self {
            id: r.id,
            organization_id: r.organization_id,
            email: r.email,
            role: r.role.as_str().into(),
            created_at: time(r.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreditGrant {
    pub amount_usd: f64,
    pub reference: String,
    pub actor: String,
    pub granted_at: String,
}

impl From<CreditGrantRow> for CreditGrant {
    fn from(r: CreditGrantRow) -> Self {
        Self {
            amount_usd: usd(r.amount_nano_usd),
            reference: r.reference,
            actor: r.actor,
            granted_at: time(r.granted_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Credits {
    pub organization_id: String,
    pub balance_usd: f64,
    pub grants: Vec<CreditGrant>,
}

#[derive(Serialize, ToSchema)]
pub struct Project {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub description: String,
    pub mode: String,
    pub caching_enabled: bool,
    pub cache_duration_seconds: i64,
    #[serde(flatten)]
    pub spend: Spend,
    /// Requests and tokens per minute for all the project's keys; null: none.
    pub rate_limits: Option<Rates>,
    /// Default fallback chains: for a requested model, the models tried after it when it
    /// fails and the request lists no `models`.
    #[schema(value_type = std::collections::BTreeMap<String, Vec<String>>)]
    pub fallbacks: tollgate_aggregates::fallbacks::Fallbacks,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Self {
            id: r.id,
            organization_id: r.organization_id,
            name: r.name,
            description: r.description,
            mode: r.mode.as_str().into(),
            caching_enabled: r.caching_enabled,
            cache_duration_seconds: r.cache_duration_seconds,
            spend: settings(r.period_budget),
            rate_limits: rates(r.rate_limits),
            fallbacks: r.fallbacks,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// A provider key as shown: never the secret, only its last four characters.
#[derive(Serialize, ToSchema)]
pub struct ProviderKey {
    pub id: String,
    pub project_id: String,
    pub provider: String,
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub masked_key: String,
    pub status: String,
    pub created_at: String,
}

impl From<ProviderKeyRow> for ProviderKey {
    fn from(r: ProviderKeyRow) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            provider: r.provider.id().into(),
            name: r.name,
            base_url: r.base_url,
            masked_key: format!("…{}", r.last4),
            status: if r.enabled { "active" } else { "disabled" }.into(),
            created_at: time(r.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub description: String,
    /// The token's first characters, to recognise it; the token itself is shown only once.
    pub prefix: String,
    pub status: String,
    pub usage_limit_usd: Option<f64>,
    /// When the key stops working (RFC 3339); null: it does not expire.
    pub expires_at: Option<String>,
    #[serde(flatten)]
    pub spend: Spend,
    /// Requests and tokens per minute; null: none.
    pub rate_limits: Option<Rates>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: r.id,
            project_id: r.project_id,
            organization_id: r.organization_id,
            description: r.description,
            prefix: r.prefix,
            status: r.status.as_str().into(),
            usage_limit_usd: r.usage_limit_nano_usd.map(usd),
            expires_at: r.expires_at.map(time_of_secs),
            spend: settings(r.period_budget),
            rate_limits: rates(r.rate_limits),
            created_by: r.created_by,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyWithToken {
    pub key: ApiKey,
    /// The only time the token is shown.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MemberWithToken {
    pub member: Member,
    /// The member's management token; shown once, stored only as a hash.
    pub token: String,
}
