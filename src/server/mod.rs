//! The HTTP server: routes (the management API, the proxy, the dashboard), request ids,
//! tracing, body limit, graceful shutdown.

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::telemetry::request_span;

mod body_timeout;
mod conn;
mod dispatch;
mod head_timeout;
mod request_id;
mod threads;
pub use conn::Connections;
pub use threads::{bind_shared, serve_threads};

/// The management API (with health checks and metrics) and the proxy's routes, each over
/// its own state.
pub fn router(app: AppState) -> Router {
    let limit = app.config.proxy.max_body_bytes;
    let runtime = app.runtime.clone();
    let proxy = crate::proxy::router().with_state(app.proxy.clone());
    let cipher = app.cipher.clone();
    let gateway = crate::api::router()
        .layer(axum::middleware::from_fn_with_state(
            runtime,
            on_app_runtime,
        ))
        .with_state(app)
        .merge(proxy);
    // The dashboard is a client of the API and the proxy, through their own routes.
    let dashboard = crate::dashboard::router(gateway.clone(), cipher);
    gateway.merge(dashboard).layer(
        ServiceBuilder::new()
            .layer(request_id::RequestIdLayer)
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(DefaultBodyLimit::max(limit)),
    )
}

/// Runs a management request on the app's runtime. A database connection is driven by the
/// runtime that opened it: opened from a serving loop, it would die with the loop (and its
/// I/O would wake that loop meanwhile). The proxy's hot path touches no database and stays
/// on the loop.
async fn on_app_runtime(
    axum::extract::State(runtime): axum::extract::State<tokio::runtime::Handle>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match runtime.spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => crate::api::error::ApiError::internal(e).into_response(),
    }
}

/// The app's background tasks and the spend alerts' (aborted when serving ends).
fn background(app: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = app.spawn_background();
    let every = std::time::Duration::from_millis(app.config.alerts.poll_ms.max(10));
    tasks.push(crate::alerts::spawn(app.clone(), every));
    tasks
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let background = background(&app);
    let connections = Connections::new(app.config.server.max_connections);
    let result = serve_connections(&app, listener, connections, shutdown).await;
    // In-flight requests are done: write every usage record.
    app.drain_usage().await;
    for task in background {
        task.abort();
    }
    result
}

/// Accepts and serves connections until `shutdown`, then lets in-flight requests and the
/// work they leave behind (a stream's usage record) finish. Used by both serving designs;
/// `connections` is shared by every loop of a server.
async fn serve_connections(
    app: &AppState,
    listener: TcpListener,
    connections: std::sync::Arc<Connections>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = dispatch::Dispatch::new(app.proxy.clone(), router(app.clone()));
    let timeouts = conn::Timeouts {
        header: std::time::Duration::from_millis(app.config.server.header_timeout_ms),
        idle: std::time::Duration::from_millis(app.config.server.idle_timeout_ms),
        body: std::time::Duration::from_millis(app.config.server.body_timeout_ms),
    };
    let result = conn::accept_loop(listener, service, connections, timeouts, shutdown).await;
    app.proxy.tasks.close();
    app.proxy.tasks.wait().await;
    result
}
