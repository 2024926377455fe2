//! Webhooks for spend alerts: created per organization (optionally for one project), with a
//! signing secret shown once; their deliveries, attempt by attempt.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json as JsonOut;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tollgate_aggregates::types::Role;
use tollgate_aggregates::webhook::{AlertKind, WebhookCommand};
use tollgate_projections::read;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Json;
use super::units::{nanos, time_of_secs, usd};
use crate::app::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where alerts are POSTed (http or https).
    pub url: String,
    /// Any of `spend_threshold`, `limit_reached`, `credits_low`.
    #[schema(value_type = Vec<String>, example = json!(["spend_threshold", "limit_reached"]))]
    pub events: Vec<AlertKind>,
    /// Percentages of a limit (1-100) that raise `spend_threshold`, once each per period.
    #[serde(default)]
    pub thresholds_percent: Vec<u8>,
    /// `credits_low` fires when the organization's credits fall below this.
    pub credits_below_usd: Option<f64>,
    /// Only this project's keys and budget; absent: the whole organization.
    pub project_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub organization_id: String,
    pub project_id: Option<String>,
    pub url: String,
    #[schema(value_type = Vec<String>)]
    pub events: Vec<AlertKind>,
    pub thresholds_percent: Vec<u8>,
    pub credits_below_usd: Option<f64>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    /// Signs every delivery (`x-tollgate-signature: t=<unix time>,v1=<hex HMAC-SHA256 of
    /// "<t>.<body>">`); shown only here.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct Attempt {
    pub attempt: i64,
    pub at: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub delivered: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    /// The alert's id (also `x-tollgate-delivery`).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub raised_at: String,
    pub delivered: bool,
    /// When the next attempt is due; null: delivered, or given up after a day.
    pub next_attempt_at: Option<String>,
    /// The document delivered.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub attempts: Vec<Attempt>,
}

fn shown(w: read::WebhookRow) -> Webhook {
    Webhook {
        id: w.id,
        organization_id: w.organization_id,
        project_id: w.project_id,
        url: w.url,
        events: w.events,
        thresholds_percent: w.thresholds_percent,
        credits_below_usd: w.credits_below_nano_usd.map(usd),
        created_at: super::units::time(w.created_at),
    }
}

/// A live webhook the caller may see, with the caller's role.
async fn load(app: &AppState, caller: &Caller, id: &str) -> ApiResult<(read::WebhookRow, Role)> {
    let w = read::webhook(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let role = caller.role_in(&w.organization_id, "webhook")?;
    Ok((w, role))
}

#[utoipa::path(post, path = "/api/organizations/{id}/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Json(body): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, JsonOut<WebhookWithSecret>)> {
    caller.require(&org, "organization", Role::Admin)?;
    read::organization(&app.db, &org)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    if let Some(p) = &body.project_id {
        read::project(&app.db, p)
            .await?
            .filter(|p| p.organization_id == org && !p.archived)
            .ok_or_else(|| ApiError::invalid("project_id", "no such project here"))?;
    }
    // The gateway POSTs there: not into its own networks.
    let policy = app.config.upstream_policy().map_err(ApiError::internal)?;
    if let Err(message) = policy.check_url(&body.url).await {
        return Err(ApiError::invalid("url", message));
    }
    let below = body
        .credits_below_usd
        .map(|v| nanos("credits_below_usd", v))
        .transpose()?;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    );
    let id = uuid::Uuid::now_v7().to_string();
    let cmd = WebhookCommand::Create {
        organization_id: org,
        project_id: body.project_id,
        url: body.url,
        events: body.events,
        thresholds_percent: body.thresholds_percent,
        credits_below_nano_usd: below,
        encrypted_secret: app.cipher.encrypt(&secret),
    };
    app.execute(&app.webhooks, &id, cmd, &caller.meta).await?;
    let w = read::webhook(&app.db, &id)
        .await?
        .ok_or_else(|| ApiError::internal("webhook missing after write"))?;
    let out = WebhookWithSecret {
        webhook: shown(w),
        secret,
    };
    Ok((StatusCode::CREATED, JsonOut(out)))
}

#[utoipa::path(get, path = "/api/organizations/{id}/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<Webhook>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<JsonOut<Vec<Webhook>>> {
    caller.role_in(&org, "organization")?;
    let hooks = read::webhooks_of(&app.db, &org).await?;
    Ok(JsonOut(hooks.into_iter().map(shown).collect()))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks",
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (w, _) = load(&app, &caller, &id).await?;
    caller.require(&w.organization_id, "webhook", Role::Admin)?;
    app.execute(&app.webhooks, &id, WebhookCommand::Delete, &caller.meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    responses((status = 200, body = Vec<Delivery>)))]
pub async fn deliveries(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<Vec<Delivery>>> {
    load(&app, &caller, &id).await?;
    let mut out = Vec::new();
    for a in read::alerts_of(&app.db, &id).await? {
        let attempts = read::alert_attempts(&app.db, &a.id)
            .await?
            .into_iter()
            .map(|t| Attempt {
                attempt: t.attempt,
                at: time_of_secs(t.at),
                status: t.status,
                error: t.error,
                delivered: t.delivered,
            })
            .collect();
        out.push(Delivery {
            body: serde_json::from_str(&a.body).unwrap_or_default(),
            id: a.id,
            kind: a.kind,
            raised_at: time_of_secs(a.raised_at),
            delivered: a.delivered,
            next_attempt_at: a.next_attempt_at.map(time_of_secs),
            attempts,
        });
    }
    Ok(JsonOut(out))
}
