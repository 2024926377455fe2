//! Request helpers shared by the proxy's handlers: who is calling (the key), reading and
//! parsing the body under the proxy's limits, and the request id.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::error::{self, ProxyError};
use super::headers;
use super::state::{KeyEntry, ProjectEntry};
use super::Proxy;
use crate::crypto::token_digest;

/// The key presented as `Authorization: Bearer` or `x-api-key`, if it may be used now.
pub fn authenticate(proxy: &Proxy, headers: &HeaderMap) -> Result<Arc<KeyEntry>, ProxyError> {
    caller(proxy, headers).map(|(key, _)| key)
}

/// `authenticate`, with the key's project as it found it (a request that needs it looks
/// it up no second time).
pub fn caller(
    proxy: &Proxy,
    headers: &HeaderMap,
) -> Result<(Arc<KeyEntry>, Arc<ProjectEntry>), ProxyError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get(headers::API_KEY).and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ProxyError::InvalidApiKey)?;
    let now = proxy.state.clock.now();
    proxy
        .state
        .key_or_expired(&token_digest(token), now)
        .map_err(|expired| match expired {
            Some(at) => ProxyError::KeyExpired(
                chrono::DateTime::from_timestamp(at, 0)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            None => ProxyError::InvalidApiKey,
        })
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
