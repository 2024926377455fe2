//! API keys of a project: create (token shown once), read (also as of a past time), update,
//! rotate with a grace period, IAM rules, revoke. Developers manage only keys they created.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json as JsonOut;
use serde::{Deserialize, Serialize};
use tollgate_aggregates::api_key::{ApiKey, ApiKeyCommand as C};
use tollgate_aggregates::period::Period;
use tollgate_aggregates::types::{IamRule, KeyStatus, Role};
use tollgate_projections::events::aggregate_as_of;
use tollgate_projections::read;
use utoipa::ToSchema;

use super::auth::Caller;
use super::budget::{self, explicit, Rates};
use super::dto::{self, nanos, parse_time, time, usd};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Json, OptionalJson, Query};
use super::projects::{self, AsOfQuery};
use crate::app::AppState;
use crate::crypto::{new_api_key, token_hash};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default)]
    pub description: String,
    pub usage_limit_usd: Option<f64>,
    /// When the key stops working (RFC 3339, in the future); absent or null: never.
    pub expires_at: Option<String>,
    /// A spend limit renewed each `period`, beside the lifetime limit.
    pub period_limit_usd: Option<f64>,
    #[schema(value_type = Option<String>, example = "month")]
    pub period: Option<Period>,
    /// Requests and tokens per minute (either may be absent).
    pub rate_limits: Option<Rates>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    pub description: Option<String>,
    #[schema(value_type = Option<String>, example = "disabled")]
    pub status: Option<KeyStatus>,
    /// A number sets the limit, null clears it.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<f64>)]
    pub usage_limit_usd: Option<Option<f64>>,
    /// An RFC 3339 time sets when the key stops working (a past one stops it now), null
    /// clears it.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// A number sets the period budget, null clears it.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<f64>)]
    pub period_limit_usd: Option<Option<f64>>,
    /// `hour`, `day`, `week` or `month` (calendar windows in UTC, weeks from Monday).
    #[schema(value_type = Option<String>, example = "day")]
    pub period: Option<Period>,
    /// An object replaces both rate limits, null clears them.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<Rates>)]
    pub rate_limits: Option<Option<Rates>>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old token keeps working, in seconds (default 0: it stops at once).
    pub grace_seconds: Option<u64>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IamRules {
    /// Rules such as `{"type": "allow_models", "models": ["openai/gpt-4o"]}`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<IamRule>,
}

/// An `expires_at` value in Unix seconds (rounded up: the key works until that time).
fn expiry_secs(text: &str) -> ApiResult<i64> {
    let micros = parse_time("expires_at", text)?;
    Ok(micros.div_euclid(1_000_000) + i64::from(micros.rem_euclid(1_000_000) > 0))
}

/// A live key of a live project that the caller may see, and the caller's role.
async fn load(app: &AppState, caller: &Caller, id: &str) -> ApiResult<(read::ApiKeyRow, Role)> {
    let key = read::api_key(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("key"))?;
    let role = caller.role_in(&key.organization_id, "key")?;
    read::project(&app.db, &key.project_id)
        .await?
        .filter(|p| !p.archived)
        .ok_or(ApiError::NotFound("key"))?;
    Ok((key, role))
}

/// Loads a key the caller may change: admins and owners any, developers their own.
async fn load_for_change(app: &AppState, caller: &Caller, id: &str) -> ApiResult<read::ApiKeyRow> {
    let (key, role) = load(app, caller, id).await?;
    if role < Role::Admin && key.created_by != caller.id() {
        return Err(ApiError::forbidden(
            "developers may change only keys they created",
        ));
    }
    Ok(key)
}

async fn reload(app: &AppState, id: &str) -> ApiResult<dto::ApiKey> {
    let row = read::api_key(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::internal("key missing after write"))?;
    shown(app, row).await
}

/// A key as shown, with its spend.
async fn shown(app: &AppState, row: read::ApiKeyRow) -> ApiResult<dto::ApiKey> {
    let spend = budget::spend(app, "key", &row.id, row.period_budget).await?;
    let mut key = dto::ApiKey::from(row);
    key.spend = spend;
    Ok(key)
}

#[utoipa::path(post, path = "/api/projects/{id}/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = dto::KeyWithToken), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Json(body): Json<CreateKey>,
) -> ApiResult<(StatusCode, JsonOut<dto::KeyWithToken>)> {
    let (project, _) = projects::load(&app, &caller, &project_id).await?;
    let limit = body
        .usage_limit_usd
        .map(|v| nanos("usage_limit_usd", v))
        .transpose()?;
    let expires_at = body.expires_at.as_deref().map(expiry_secs).transpose()?;
    let period_budget = budget::at_creation(body.period_limit_usd, body.period)?;
    if expires_at.is_some_and(|at| at <= chrono::Utc::now().timestamp()) {
        return Err(ApiError::invalid(
            "expires_at",
            "expires_at must be in the future",
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (token, prefix) = new_api_key();
    let cmd = C::Create {
        project_id,
        organization_id: project.organization_id,
        description: body.description,
        token_hash: token_hash(&token),
        prefix,
        usage_limit_nano_usd: limit,
        created_by: caller.id().to_string(),
        expires_at,
        period_budget,
        rate_limits: body.rate_limits.map(Into::into).unwrap_or_default(),
    };
    app.execute(&app.keys, &id, cmd, &caller.meta).await?;
    let key = reload(&app, &id).await?;
    Ok((
        StatusCode::CREATED,
        JsonOut(dto::KeyWithToken { key, token }),
    ))
}

#[utoipa::path(get, path = "/api/projects/{id}/keys", tag = "keys",
    responses((status = 200, body = Vec<dto::ApiKey>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<JsonOut<Vec<dto::ApiKey>>> {
    projects::load(&app, &caller, &project_id).await?;
    let keys = read::api_keys_of(&app.db, &project_id).await?;
    let mut shown_keys = Vec::with_capacity(keys.len());
    for k in keys {
        shown_keys.push(shown(&app, k).await?);
    }
    Ok(JsonOut(shown_keys))
}

#[utoipa::path(get, path = "/api/keys/{id}", tag = "keys", params(AsOfQuery),
    responses((status = 200, body = dto::ApiKey), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> ApiResult<JsonOut<dto::ApiKey>> {
    let Some(as_of) = q.as_of else {
        let row = load(&app, &caller, &id).await?.0;
        return Ok(JsonOut(shown(&app, row).await?));
    };
    let until = parse_time("as_of", &as_of)?;
    let past = aggregate_as_of::<ApiKey>(&app.db, &id, until)
        .await?
        .ok_or(ApiError::NotFound("key"))?;
    let k = past.aggregate;
    // Scoped by the organization recorded in the key's own history.
    caller.role_in(&k.organization_id, "key")?;
    if k.revoked {
        return Err(ApiError::NotFound("key"));
    }
    Ok(JsonOut(dto::ApiKey {
        id,
        project_id: k.project_id,
        organization_id: k.organization_id,
        description: k.description,
        prefix: k.prefix,
        status: k.status.as_str().into(),
        usage_limit_usd: k.usage_limit_nano_usd.map(usd),
        expires_at: k.expires_at.map(dto::time_of_secs),
        spend: budget::settings(k.period_budget),
        rate_limits: budget::rates(k.rate_limits),
        created_by: k.created_by,
        created_at: time(past.created_at),
        updated_at: time(past.updated_at),
    }))
}

#[utoipa::path(patch, path = "/api/keys/{id}", tag = "keys", request_body = UpdateKey,
    responses((status = 200, body = dto::ApiKey), (status = 403, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateKey>,
) -> ApiResult<JsonOut<dto::ApiKey>> {
    let current = load_for_change(&app, &caller, &id).await?;
    let period_budget = budget::change(body.period_limit_usd, body.period, current.period_budget)?;
    let limit = match body.usage_limit_usd {
        Some(Some(v)) => Some(Some(nanos("usage_limit_usd", v)?)),
        Some(None) => Some(None),
        None => None,
    };
    let expires_at = match body.expires_at {
        Some(Some(t)) => Some(Some(expiry_secs(&t)?)),
        Some(None) => Some(None),
        None => None,
    };
    let cmd = C::Update {
        description: body.description,
        status: body.status,
        usage_limit_nano_usd: limit,
        expires_at,
        period_budget,
        rate_limits: budget::rates_change(body.rate_limits),
    };
    app.execute(&app.keys, &id, cmd, &caller.meta).await?;
    Ok(JsonOut(reload(&app, &id).await?))
}

#[utoipa::path(post, path = "/api/keys/{id}/rotate", tag = "keys", request_body = RotateKey,
    responses((status = 200, body = dto::KeyWithToken)))]
pub async fn rotate(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<RotateKey>,
) -> ApiResult<JsonOut<dto::KeyWithToken>> {
    load_for_change(&app, &caller, &id).await?;
    let (token, prefix) = new_api_key();
    let cmd = C::Rotate {
        token_hash: token_hash(&token),
        prefix,
        grace_seconds: body.grace_seconds,
        now: chrono::Utc::now().timestamp(),
    };
    app.execute(&app.keys, &id, cmd, &caller.meta).await?;
    let key = reload(&app, &id).await?;
    Ok(JsonOut(dto::KeyWithToken { key, token }))
}

#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys",
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    load_for_change(&app, &caller, &id).await?;
    app.execute(&app.keys, &id, C::Revoke, &caller.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/keys/{id}/iam-rules", tag = "keys",
    responses((status = 200, body = IamRules)))]
pub async fn get_rules(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<IamRules>> {
    load(&app, &caller, &id).await?;
    let rules = read::iam_rules(&app.db, &id).await?;
    Ok(JsonOut(IamRules { rules }))
}

#[utoipa::path(put, path = "/api/keys/{id}/iam-rules", tag = "keys", request_body = IamRules,
    responses((status = 200, body = IamRules), (status = 400, body = ErrorBody)))]
pub async fn set_rules(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<IamRules>,
) -> ApiResult<JsonOut<IamRules>> {
    load_for_change(&app, &caller, &id).await?;
    app.execute(
        &app.keys,
        &id,
        C::SetIamRules { rules: body.rules },
        &caller.meta,
    )
    .await?;
    let rules = read::iam_rules(&app.db, &id).await?;
    Ok(JsonOut(IamRules { rules }))
}
