//! Logging: text or JSON lines, each request in a span that carries its request id.

use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The span of one HTTP request. The query string is left out: it may carry filters only,
/// but the authorization header and bodies never enter logs.
pub fn request_span<B>(req: &Request<B>) -> Span {
    // Below the log level nothing is built: not even the id's lookup by its header name.
    if !tracing::enabled!(tracing::Level::INFO) {
        return Span::none();
    }
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
    )
}
