//! The access log: one `info` line per proxy request (method, path, status, latency, key id,
//! model, provider, request id), and the metrics of requests refused before they were
//! metered (a bad key, a wrong method), which no usage record counts. The fields are
//! borrowed from the request and its record: a line allocates nothing of its own, and below
//! the `info` level it costs a level check.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::ProxyError;

pub use super::access_line::Line;

/// The path of a metered route, by its metrics name.
pub fn path_of(route: &str) -> &'static str {
    match route {
        "chat" => "/v1/chat/completions",
        "embeddings" => "/v1/embeddings",
        "messages" => "/v1/messages",
        "responses" => "/v1/responses",
        _ => "/v1/models",
    }
}

/// A request answered before it was metered (no key, or not one that may be used, ...):
/// counted in the metrics under `route` and logged, then answered with `error`.
pub fn refused(
    route: &'static str,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    started: Instant,
    error: ProxyError,
) -> Response {
    let status = error.status().as_u16();
    answered(route, method, path, headers, started, status, "-", "");
    error.into_response()
}

/// Counts and logs a request the proxy answered without a usage record.
#[allow(clippy::too_many_arguments)]
pub fn answered(
    route: &'static str,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    started: Instant,
    status: u16,
    key_id: &str,
    model: &str,
) {
    let latency = started.elapsed();
    crate::metrics::request(route, status, "", latency, Duration::ZERO);
    Line {
        method,
        path,
        status,
        latency,
        key_id,
        model,
        provider: "",
        request_id: headers
            .get(super::headers::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
    }
    .log();
}

/// The answer to a method a proxy route does not take: 405 in OpenAI's error shape (the
/// router adds `Allow`), counted and logged as a refusal of `route`.
pub fn method_not_allowed(
    route: &'static str,
) -> impl Fn(Method, Uri, HeaderMap) -> std::future::Ready<Response> + Clone + Send + Sync + 'static
{
    move |method, uri, headers| {
        let error = ProxyError::InvalidRequest {
            message: format!("{method} is not allowed on {}", uri.path()),
            param: None,
            code: "method_not_allowed",
        };
        let status = StatusCode::METHOD_NOT_ALLOWED;
        let (method, path) = (method.as_str(), uri.path());
        answered(
            route,
            method,
            path,
            &headers,
            Instant::now(),
            status.as_u16(),
            "-",
            "",
        );
        std::future::ready((status, axum::Json(error.body())).into_response())
    }
}
