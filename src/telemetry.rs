//! Logging: text or JSON lines, each request in a span that carries its request id.

use axum::http::Request;
use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines a serving thread may queue before the log writer drops them (counted by
/// tracing-appender). Beyond it, losing log lines is better than holding requests back.
const LOG_QUEUE: usize = 65_536;

/// Installs the subscriber. Lines are written by a thread of their own through a buffer,
/// flushed whenever its queue runs empty: one access line per request written from the
/// serving thread would cost it a `write` system call each. Keep the guard until exit: its
/// drop flushes what is queued.
pub fn init(format: LogFormat) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE)
        .lossy(true)
        .thread_name("tollgate-log")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let access = writer.clone();
    // Colour codes only for a terminal: in a file or a collector they are noise, and
    // writing them was a fifth of an access line's cost.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    // A second init (tests) is harmless: the first subscriber stays.
    let installed = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // Access lines skip the formatter, into the same queue (`proxy::access_line`).
    installed.is_ok().then(|| {
        crate::proxy::access_line::install(access, format == LogFormat::Json);
        guard
    })
}

/// The span of one HTTP request, named by its request id. The authorization header and bodies
/// never enter logs.
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
    // Only the id: a line in the span is found with its request's access line (which names
    // the method and path), and each formatted field cost every request about 700
    // instructions.
    tracing::info_span!("request", request_id = %request_id)
}
