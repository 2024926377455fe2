//! The proxy: OpenAI-compatible endpoints over the in-memory state, the model catalog and
//! the upstream providers, with IAM, limits, credits, caching and usage metering.

mod access;
pub mod access_line;
mod accumulate;
mod attempts;
mod budgets;
pub mod cache;
mod cache_control;
mod cache_key;
pub mod catalog;
mod chat;
mod chat_request;
pub mod clock;
pub mod error;
mod fallback;
pub mod iam;
mod inbound;
pub mod leases;
pub mod ledger;
mod lenient;
mod meter;
mod models;
pub mod pricing;
mod prompt_fields;
pub mod providers;
mod rate_shown;
pub mod replay;
mod request;
pub mod route;
mod settings;
pub mod spool;
pub mod state;
mod stream;
pub mod usage;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use cache::ResponseCache;
use catalog::Catalog;
use providers::Http;
pub use settings::{ProviderSettings, ProxySettings};
use state::ProxyState;
use usage::UsageSink;

/// The hot path's maps. Their keys are SHA-256 digests and server-made ids, which callers
/// cannot steer into collisions, so a fast hasher replaces SipHash (a visible share of each
/// request, with three lookups per request).
pub type FastMap<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;

/// What the proxy shares between requests.
pub struct Proxy {
    pub settings: ProxySettings,
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
    /// Headers an answer may carry: its own five and six rate-limit headers.
    pub const ANSWER_CAPACITY: usize = 12;
}

/// The chat route's handler, which the server calls without the router (see `server::dispatch`).
pub use chat::completions_at as chat_completions;

/// The proxy's routes; the server merges them with the management API's.
pub fn router() -> Router<Arc<Proxy>> {
    use access::method_not_allowed as not_allowed;
    Router::new()
        .route(
            "/v1/chat/completions",
            post(chat::completions).fallback(not_allowed("chat")),
        )
        .route(
            "/v1/messages",
            post(inbound::messages::create).fallback(inbound::messages::not_allowed),
        )
        .route(
            "/v1/messages/count_tokens",
            post(inbound::messages::count_tokens).fallback(inbound::messages::not_allowed),
        )
        .route(
            "/v1/responses",
            post(inbound::responses::create).fallback(not_allowed("responses")),
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
