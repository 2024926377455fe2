//! The proxy: OpenAI-compatible endpoints over the in-memory state, the model catalog and
//! the upstream providers, with IAM, limits, credits, caching and usage metering.

mod access;
pub mod access_line;
mod accumulate;
pub mod cache;
mod cache_key;
pub mod catalog;
mod chat;
mod chat_request;
pub mod error;
pub mod iam;
pub mod ledger;
mod lenient;
mod meter;
mod models;
pub mod pricing;
mod prompt_fields;
pub mod providers;
pub mod replay;
pub mod route;
pub mod spool;
pub mod state;
mod stream;
pub mod usage;

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use crate::crypto::token_digest;
use cache::ResponseCache;
use catalog::Catalog;
use error::ProxyError;
use providers::Http;
use state::{KeyEntry, ProxyState};
use usage::UsageSink;

/// The hot path's maps. Their keys are SHA-256 digests and server-made ids, which callers
/// cannot steer into collisions, so a fast hasher replaces SipHash (a visible share of each
/// request, with three lookups per request).
pub type FastMap<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;

/// What the proxy shares between requests.
pub struct Proxy {
    pub state: Arc<ProxyState>,
    pub catalog: Catalog,
    pub cache: Arc<dyn ResponseCache>,
    pub http: Http,
    pub usage: UsageSink,
    /// The usage spool (none for commands that record no usage).
    pub spool: Option<Arc<spool::Spool>>,
    /// Work a request leaves behind (a finished stream's usage record, its cache entry):
    /// shutdown waits for it before the usage writer is drained.
    pub tasks: tokio_util::task::TaskTracker,
}

/// Header names the proxy uses, named once (a `&str` name is parsed on every lookup).
pub mod headers {
    use axum::http::HeaderName;

    pub const CACHE: HeaderName = HeaderName::from_static("x-tollgate-cache");
    pub const PROVIDER: HeaderName = HeaderName::from_static("x-tollgate-provider");
    pub const COST_USD: HeaderName = HeaderName::from_static("x-tollgate-cost-usd");
    pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
    pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
}

/// The chat route's handler, which the server calls without the router (see `server::dispatch`).
pub use chat::completions_at as chat_completions;

pub fn router() -> Router<AppState> {
    use access::method_not_allowed as not_allowed;
    Router::new()
        .route(
            "/v1/chat/completions",
            post(chat::completions).fallback(not_allowed("chat")),
        )
        .route(
            "/v1/embeddings",
            post(models::embeddings).fallback(not_allowed("embeddings")),
        )
        .route(
            "/v1/models",
            get(models::list).fallback(not_allowed("models")),
        )
        .route(
            "/v1/models/{*id}",
            get(models::get).fallback(not_allowed("models")),
        )
}

/// The key presented as `Authorization: Bearer` or `x-api-key`, if it may be used now.
pub fn authenticate(proxy: &Proxy, headers: &HeaderMap) -> Result<Arc<KeyEntry>, ProxyError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get(headers::API_KEY).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ProxyError::InvalidApiKey)?;
    proxy
        .state
        .key(&token_digest(token), chrono::Utc::now().timestamp())
        .ok_or(ProxyError::InvalidApiKey)
}

/// Parses a JSON request body: 415 unless JSON, 400 with the parser's reason.
pub fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, ProxyError> {
    json_content(headers)?;
    json_object(body)
}

/// A body's JSON tree: 400 with the parser's reason unless it is a JSON object.
pub fn json_object(body: &[u8]) -> Result<serde_json::Value, ProxyError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ProxyError::malformed_json(&e))?;
    if !value.is_object() {
        return Err(ProxyError::InvalidRequest {
            message: "the body must be a JSON object".into(),
            param: None,
            code: "invalid_json",
        });
    }
    Ok(value)
}

/// 415 unless the request says its body is JSON.
pub fn json_content(headers: &HeaderMap) -> Result<(), ProxyError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ProxyError::UnsupportedMediaType(
            "expected Content-Type: application/json".into(),
        ))
    }
}

/// Reads the body after the key was checked, so that a body over the limit is a 413 in
/// OpenAI's shape with a usage record like any other refusal.
pub async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, ProxyError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // axum reports the limit as "length limit exceeded".
        if e.to_string().contains("length limit") {
            ProxyError::PayloadTooLarge
        } else if error::is_body_timeout(&e) {
            ProxyError::BodyTimeout
        } else {
            ProxyError::InvalidRequest {
                message: format!("cannot read the body: {e}"),
                param: None,
                code: "invalid_body",
            }
        }
    })
}

pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
