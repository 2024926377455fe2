//! A project's usage: the per-request log and summaries, with the management API's auth.

use axum::extract::{Path, State};
use axum::Json as JsonOut;
use serde::{Deserialize, Serialize};
use tollgate_projections::read::{self, GroupBy, UsageFilter, UsageLogRow};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::dto::{parse_time, time, usd};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Query;
use super::projects;
use crate::app::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: Option<i64>,
    pub cached: Option<bool>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, inclusive.
    pub until: Option<String>,
    /// 1-500, default 50 (logs only).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// day | model | key | provider (summary only; default day).
    pub group_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageLog {
    pub request_id: String,
    pub key_id: String,
    pub endpoint: String,
    pub requested_model: String,
    pub model: String,
    pub provider: String,
    pub paid_with: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    /// Prompt tokens written to the provider's prompt cache.
    pub cache_creation_tokens: i64,
    pub cost_usd: f64,
    pub fee_usd: f64,
    pub estimated: bool,
    pub cached: bool,
    pub streamed: bool,
    pub status: i64,
    pub error_code: Option<String>,
    pub latency_ms: i64,
    pub time_to_first_token_ms: Option<i64>,
    pub started_at: String,
}

impl From<UsageLogRow> for UsageLog {
    fn from(r: UsageLogRow) -> Self {
        Self {
            request_id: r.request_id,
            key_id: r.key_id,
            endpoint: r.endpoint,
            requested_model: r.requested_model,
            model: r.model,
            provider: r.provider,
            paid_with: r.paid_with,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cached_tokens: r.cached_tokens,
            reasoning_tokens: r.reasoning_tokens,
            cache_creation_tokens: r.cache_creation_tokens,
            cost_usd: usd(r.cost_nano_usd),
            fee_usd: usd(r.fee_nano_usd),
            estimated: r.estimated,
            cached: r.cached,
            streamed: r.streamed,
            status: r.status,
            error_code: r.error_code,
            latency_ms: r.latency_ms,
            time_to_first_token_ms: r.time_to_first_token_ms,
            started_at: time(r.started_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UsageLogPage {
    pub logs: Vec<UsageLog>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageGroup {
    pub group: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub cache_hit_rate: f64,
    pub error_rate: f64,
    /// Over whole days without a status or cache filter these come from the daily rollup and
    /// are the upper bound of a histogram bucket (50, 100, 200, 300, 500, 750, 1000, 1500,
    /// 2000, 3000, 5000, 10000, 30000 ms, then 60000 for above); otherwise exact.
    pub latency_p50_ms: i64,
    pub latency_p95_ms: i64,
    /// Time to first token over the streamed requests (0 when none was streamed).
    pub ttft_p50_ms: i64,
    pub ttft_p95_ms: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageSummary {
    pub group_by: String,
    pub groups: Vec<UsageGroup>,
}

async fn filter(
    app: &AppState,
    caller: &Caller,
    project_id: &str,
    q: &UsageQuery,
) -> ApiResult<UsageFilter> {
    projects::load(app, caller, project_id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be 1-500"));
    }
    Ok(UsageFilter {
        project_id: project_id.to_string(),
        key_id: q.key_id.clone(),
        model: q.model.clone(),
        provider: q.provider.clone(),
        status: q.status,
        cached: q.cached,
        since: q
            .since
            .as_deref()
            .map(|t| parse_time("since", t))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|t| parse_time("until", t))
            .transpose()?,
        cursor: q
            .cursor
            .as_deref()
            .map(|c| {
                c.parse()
                    .map_err(|_| ApiError::invalid("cursor", "cursor is not valid"))
            })
            .transpose()?,
        limit,
    })
}

#[utoipa::path(get, path = "/api/projects/{id}/usage-logs", tag = "usage", params(UsageQuery),
    responses((status = 200, body = UsageLogPage), (status = 404, body = ErrorBody)))]
pub async fn logs(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<JsonOut<UsageLogPage>> {
    let f = filter(&app, &caller, &id, &q).await?;
    let (rows, next) = read::usage_logs(&app.db, &f).await?;
    Ok(JsonOut(UsageLogPage {
        logs: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|c| c.to_string()),
    }))
}

#[utoipa::path(get, path = "/api/projects/{id}/usage-summary", tag = "usage", params(UsageQuery),
    responses((status = 200, body = UsageSummary), (status = 400, body = ErrorBody)))]
pub async fn summary(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<JsonOut<UsageSummary>> {
    let group_by = q.group_by.clone().unwrap_or_else(|| "day".into());
    let by = match group_by.as_str() {
        "day" => GroupBy::Day,
        "model" => GroupBy::Model,
        "key" => GroupBy::Key,
        "provider" => GroupBy::Provider,
        _ => {
            return Err(ApiError::invalid(
                "group_by",
                "group_by must be day, model, key or provider",
            ))
        }
    };
    let f = filter(&app, &caller, &id, &q).await?;
    let groups = read::usage_summary(&app.db, &f, by)
        .await?
        .into_iter()
        .map(|g| UsageGroup {
            cache_hit_rate: g.cache_hits as f64 / g.requests.max(1) as f64,
            error_rate: g.errors as f64 / g.requests.max(1) as f64,
            group: g.group,
            requests: g.requests,
            prompt_tokens: g.prompt_tokens,
            completion_tokens: g.completion_tokens,
            cost_usd: usd(g.cost_nano_usd),
            latency_p50_ms: g.latency_p50_ms,
            latency_p95_ms: g.latency_p95_ms,
            ttft_p50_ms: g.ttft_p50_ms,
            ttft_p95_ms: g.ttft_p95_ms,
        })
        .collect();
    Ok(JsonOut(UsageSummary { group_by, groups }))
}
