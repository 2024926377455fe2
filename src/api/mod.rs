//! The management REST API under `/api`, health checks and the OpenAPI document.

pub mod audit;
pub mod auth;
pub mod budget;
pub mod dto;
pub mod error;
pub mod extract;
pub mod keys;
pub mod me;
pub mod openapi;
pub mod organizations;
pub mod projects;
pub mod provider_keys;
pub mod units;
pub mod usage;
pub mod webhooks;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;
use error::ApiError;

pub fn router() -> Router<AppState> {
    use organizations as orgs;
    Router::new()
        .route("/api/me", get(me::me))
        .route("/api/organizations", post(orgs::create).get(me::list))
        .route(
            "/api/organizations/{id}",
            get(orgs::get).patch(orgs::update),
        )
        .route(
            "/api/organizations/{id}/members",
            post(orgs::add_member).get(orgs::list_members),
        )
        .route(
            "/api/organizations/{id}/members/{member_id}",
            patch(orgs::change_role).delete(orgs::remove_member),
        )
        .route(
            "/api/organizations/{id}/credits",
            post(orgs::add_credits).get(orgs::get_credits),
        )
        .route("/api/organizations/{id}/projects", get(orgs::list_projects))
        .route("/api/projects", post(projects::create))
        .route(
            "/api/projects/{id}",
            get(projects::get)
                .patch(projects::update)
                .delete(projects::delete),
        )
        .route(
            "/api/projects/{id}/keys",
            post(keys::create).get(keys::list),
        )
        .route(
            "/api/projects/{id}/provider-keys",
            post(provider_keys::add).get(provider_keys::list),
        )
        .route(
            "/api/provider-keys/{id}",
            patch(provider_keys::update).delete(provider_keys::delete),
        )
        .route(
            "/api/keys/{id}",
            get(keys::get).patch(keys::update).delete(keys::revoke),
        )
        .route("/api/keys/{id}/rotate", post(keys::rotate))
        .route(
            "/api/keys/{id}/iam-rules",
            get(keys::get_rules).put(keys::set_rules),
        )
        .route("/api/projects/{id}/usage-logs", get(usage::logs))
        .route("/api/projects/{id}/usage-summary", get(usage::summary))
        .route(
            "/api/organizations/{id}/webhooks",
            post(webhooks::create).get(webhooks::list),
        )
        .route(
            "/api/webhooks/{id}",
            axum::routing::delete(webhooks::delete),
        )
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/audit", get(audit::list))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(refuse_nul))
}

/// A NUL (`%00`) in a path or query string would reach Postgres, which can neither store
/// nor compare it (a 500): refused as a 400, as NUL in a JSON body is.
async fn refuse_nul(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let has_nul = |s: &str| {
        s.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    let uri = req.uri();
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return ApiError::BadRequest {
            message: "the path and query string must not contain NUL (%00)".into(),
            param: None,
            code: "invalid_request",
        }
        .into_response();
    }
    next.run(req).await
}

/// Prometheus metrics: the recorder's text, with the projector's lag and the usage queue.
async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    let projected = *app.projector.subscribe().borrow();
    let lag = tollgate_projections::events::head(&app.db)
        .await
        .ok()
        .map(|head| head - projected);
    let text = crate::metrics::render(lag, app.proxy.usage.depth());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Usage batches land continuously under load: a few not yet projected do not make a replica
/// unready (startup itself catches up fully before serving).
const READY_LAG_EVENTS: i64 = 100;

/// Ready when the database answers and the read models have caught up with the log.
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let head = tollgate_projections::events::head(&app.db).await;
    let projected = *app.projector.subscribe().borrow();
    match head {
        Ok(head) if head - projected <= READY_LAG_EVENTS => (
            StatusCode::OK,
            Json(json!({"status": "ready", "position": projected})),
        ),
        Ok(head) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "catching_up", "position": projected, "head": head})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "database_unreachable"})),
            )
        }
    }
}
