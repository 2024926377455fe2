use sqlx::any::AnyRow;
use sqlx::Row;
use tollgate_aggregates::period::{PeriodBudget, RateLimits};
use tollgate_aggregates::types::{IamRule, KeyStatus, PricingType};

use super::{period_budget, rate_limits, typed};
use crate::{Db, Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: String,
    pub project_id: String,
    pub organization_id: String,
    pub description: String,
    pub prefix: String,
    pub status: KeyStatus,
    pub usage_limit_nano_usd: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A token of a key, by the SHA-256 (hex) it is stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyToken {
    pub token_hash: String,
    /// Set when the token was rotated away: it works until then (Unix seconds).
    pub valid_until: Option<i64>,
}

fn key_row(r: &AnyRow) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        organization_id: r.try_get("organization_id")?,
        description: r.try_get("description")?,
        prefix: r.try_get("prefix")?,
        status: typed(r, "rm_api_keys.status", KeyStatus::parse)?,
        usage_limit_nano_usd: r.try_get("usage_limit_nano_usd")?,
        expires_at: r.try_get("expires_at")?,
        period_budget: period_budget(r, "rm_api_keys.period")?,
        rate_limits: rate_limits(r)?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn api_key(db: &Db, id: &str) -> Result<Option<ApiKeyRow>> {
    let row = sqlx::query("SELECT * FROM rm_api_keys WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(key_row).transpose()
}

pub async fn api_keys_of(db: &Db, project_id: &str) -> Result<Vec<ApiKeyRow>> {
    let rows =
        sqlx::query("SELECT * FROM rm_api_keys WHERE project_id = $1 ORDER BY created_at, id")
            .bind(project_id)
            .fetch_all(&db.any)
            .await?;
    rows.iter().map(key_row).collect()
}

pub async fn iam_rules(db: &Db, key_id: &str) -> Result<Vec<IamRule>> {
    let rows = sqlx::query("SELECT * FROM rm_iam_rules WHERE key_id = $1 ORDER BY position")
        .bind(key_id)
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(rule_row).collect()
}

fn rule_row(r: &AnyRow) -> Result<IamRule> {
    let kind: String = r.try_get("rule_type")?;
    let bad = |reason: String| Error::Decode {
        position: 0,
        reason,
    };
    let targets = || -> Result<Vec<String>> {
        let text: Option<String> = r.try_get("targets")?;
        serde_json::from_str(text.as_deref().unwrap_or("[]")).map_err(|e| bad(e.to_string()))
    };
    let pricing_type = || -> Result<PricingType> {
        match r.try_get::<Option<String>, _>("pricing_type")?.as_deref() {
            Some("free") => Ok(PricingType::Free),
            Some("paid") => Ok(PricingType::Paid),
            other => Err(bad(format!("pricing_type {other:?}"))),
        }
    };
    let usd = |col: &str| -> Result<Option<f64>> {
        Ok(r.try_get::<Option<i64>, _>(col)?.map(|n| n as f64 / 1e9))
    };
    let max_in = usd("max_input_nano_usd_per_mtok")?;
    let max_out = usd("max_output_nano_usd_per_mtok")?;
    Ok(match kind.as_str() {
        "allow_models" => IamRule::AllowModels { models: targets()? },
        "deny_models" => IamRule::DenyModels { models: targets()? },
        "allow_providers" => IamRule::AllowProviders {
            providers: targets()?,
        },
        "deny_providers" => IamRule::DenyProviders {
            providers: targets()?,
        },
        "allow_pricing" => IamRule::AllowPricing {
            pricing_type: pricing_type()?,
            max_input_usd_per_mtok: max_in,
            max_output_usd_per_mtok: max_out,
        },
        "deny_pricing" => IamRule::DenyPricing {
            pricing_type: pricing_type()?,
            max_input_usd_per_mtok: max_in,
            max_output_usd_per_mtok: max_out,
        },
        other => return Err(bad(format!("rule type {other}"))),
    })
}

/// The tokens that open a key (the current one, and rotated ones in their grace period).
pub async fn key_tokens(db: &Db, key_id: &str) -> Result<Vec<KeyToken>> {
    let rows = sqlx::query("SELECT token_hash, valid_until FROM rm_key_tokens WHERE key_id = $1")
        .bind(key_id)
        .fetch_all(&db.any)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyToken {
                token_hash: r.try_get("token_hash")?,
                valid_until: r.try_get("valid_until")?,
            })
        })
        .collect()
}
