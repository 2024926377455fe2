//! Period budgets in the management API: `period_limit_usd` and `period` as keys and projects
//! take them, and the spend a key or project shows (lifetime, this period, when it renews).

use serde::{Deserialize, Serialize};
use tollgate_aggregates::period::{Period, PeriodBudget, RateLimits};
use tollgate_projections::read;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::units::{nanos, time_of_secs, usd};
use crate::app::AppState;

/// Tells a field left out (`None`) from one set to null (`Some(None)`).
pub fn explicit<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The budget a creation asks for: both fields, or neither.
pub fn at_creation(
    limit_usd: Option<f64>,
    period: Option<Period>,
) -> ApiResult<Option<PeriodBudget>> {
    match (limit_usd, period) {
        (None, None) => Ok(None),
        (Some(limit), Some(period)) => Ok(Some(PeriodBudget {
            limit_nano_usd: nanos("period_limit_usd", limit)?,
            period,
        })),
        (Some(_), None) => Err(ApiError::invalid(
            "period",
            "period (hour, day, week or month) is required with period_limit_usd",
        )),
        (None, Some(_)) => Err(ApiError::invalid(
            "period_limit_usd",
            "period_limit_usd is required with period",
        )),
    }
}

/// The change a PATCH asks for, against the `current` budget: `None` leaves it, `Some(None)`
/// clears it (`period_limit_usd: null`).
pub fn change(
    limit_usd: Option<Option<f64>>,
    period: Option<Period>,
    current: Option<PeriodBudget>,
) -> ApiResult<Option<Option<PeriodBudget>>> {
    match (limit_usd, period) {
        (None, None) => Ok(None),
        (Some(None), _) => Ok(Some(None)),
        (Some(Some(limit)), p) => {
            let period = p.or(current.map(|b| b.period)).ok_or_else(|| {
                ApiError::invalid(
                    "period",
                    "period (hour, day, week or month) is required with period_limit_usd",
                )
            })?;
            Ok(Some(Some(PeriodBudget {
                limit_nano_usd: nanos("period_limit_usd", limit)?,
                period,
            })))
        }
        (None, Some(period)) => match current {
            Some(b) => Ok(Some(Some(PeriodBudget { period, ..b }))),
            None => Err(ApiError::invalid(
                "period_limit_usd",
                "period_limit_usd is required: there is no budget to change the period of",
            )),
        },
    }
}

/// The budget's settings alone (a view of the past shows no spend).
pub fn settings(budget: Option<PeriodBudget>) -> Spend {
    Spend {
        period_limit_usd: budget.map(|b| usd(b.limit_nano_usd)),
        period: budget.map(|b| b.period),
        ..Spend::default()
    }
}

/// Requests and tokens per minute, as the API takes and shows them. Read from a JSON object
/// only (a derived reader would also take an array of the two values).
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct Rates {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for Rates {
    type Error = String;

    fn try_from(fields: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let mut rates = Rates::default();
        for (name, value) in fields {
            let slot = match name.as_str() {
                "requests_per_minute" => &mut rates.requests_per_minute,
                "tokens_per_minute" => &mut rates.tokens_per_minute,
                other => return Err(format!("unknown field `{other}` in rate_limits")),
            };
            *slot = match value {
                serde_json::Value::Null => None,
                v => Some(v.as_u64().ok_or_else(|| {
                    format!("rate_limits.{name} must be a whole number of at least 1")
                })?),
            };
        }
        Ok(rates)
    }
}

impl From<Rates> for RateLimits {
    fn from(r: Rates) -> Self {
        Self {
            requests_per_minute: r.requests_per_minute,
            tokens_per_minute: r.tokens_per_minute,
        }
    }
}

/// Rate limits as shown: none when neither is set.
pub fn rates(limits: RateLimits) -> Option<Rates> {
    (!limits.is_empty()).then_some(Rates {
        requests_per_minute: limits.requests_per_minute,
        tokens_per_minute: limits.tokens_per_minute,
    })
}

/// A PATCH's `rate_limits`: absent leaves them, null clears both, an object replaces both.
pub fn rates_change(v: Option<Option<Rates>>) -> Option<RateLimits> {
    v.map(|r| r.map(Into::into).unwrap_or_default())
}

/// What a key or project has spent, as it shows it.
#[derive(Serialize, ToSchema, Default)]
pub struct Spend {
    /// Lifetime spend (fee included), as recorded (absent in a view of the past).
    pub spend_usd: Option<f64>,
    pub period_limit_usd: Option<f64>,
    #[schema(value_type = Option<String>, example = "month")]
    pub period: Option<Period>,
    /// Spend in the current period, as recorded.
    pub period_spend_usd: Option<f64>,
    /// When the period budget renews (RFC 3339).
    pub period_resets_at: Option<String>,
}

/// The spend of `scope` (`key` or `project`) `id` under `budget`, at the proxy's clock.
pub async fn spend(
    app: &AppState,
    scope: &'static str,
    id: &str,
    budget: Option<PeriodBudget>,
) -> ApiResult<Spend> {
    let (lifetime, _) = read::spend(&app.db, scope, id).await?;
    let mut out = Spend {
        spend_usd: Some(usd(lifetime)),
        ..Spend::default()
    };
    if let Some(b) = budget {
        let now = app.proxy.state.clock.now();
        let start = b.period.start(now);
        let spent = read::period_spend(&app.db, scope, id, start).await?;
        out.period_limit_usd = Some(usd(b.limit_nano_usd));
        out.period = Some(b.period);
        out.period_spend_usd = Some(usd(spent));
        out.period_resets_at = Some(time_of_secs(b.period.next(now)));
    }
    Ok(out)
}
