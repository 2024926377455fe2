//! The running service: its state (database, event store, projector, cipher) and the
//! command path every write takes — execute with metadata, retry on conflict, project.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::{Aggregate, AggregateError};
use sha2::{Digest, Sha256};
use tollgate_aggregates::alert::Alert;
use tollgate_aggregates::api_key::ApiKey;
use tollgate_aggregates::organization::Organization;
use tollgate_aggregates::project::Project;
use tollgate_aggregates::webhook::Webhook;
use tollgate_aggregates::{DomainError, DomainServices};
use tollgate_projections::{Db, Projector};

use crate::command::CommandError;
pub use crate::command::Meta;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::providers::ProviderCatalog;
use crate::proxy::cache::MemoryCache;
use crate::proxy::catalog::Catalog;
use crate::proxy::replay::replay;
use crate::proxy::spool::Spool;
use crate::proxy::state::{ProxyState, LATEST};
use crate::proxy::usage::UsageWriter;
use crate::proxy::{ProviderSettings, Proxy, ProxySettings};
use crate::store::{framework, Framework};

/// How many times a command is retried on fresh state after losing an optimistic-lock race.
const CONFLICT_RETRIES: u32 = 5;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub projector: Arc<Projector>,
    pub cipher: Cipher,
    pub organizations: Framework<Organization>,
    pub projects: Framework<Project>,
    pub keys: Framework<ApiKey>,
    pub webhooks: Framework<Webhook>,
    pub alerts: Framework<Alert>,
    pub proxy: Arc<Proxy>,
    usage_writer: std::sync::Mutex<Option<UsageWriter>>,
    admin_token_hash: Option<[u8; 32]>,
    /// The runtime the app was started on, which outlives the serving loops: the management
    /// API runs its requests here, so the database connections they open belong to it.
    pub runtime: tokio::runtime::Handle,
}

pub type AppState = Arc<App>;

/// The providers' client: the operator's configured base URLs are trusted, every other host
/// (a tenant's `base_url`) is reached only at addresses the upstream policy allows.
fn upstream_client(config: &Config) -> anyhow::Result<crate::proxy::providers::Http> {
    let trusted: Vec<&str> = config
        .providers
        .values()
        .filter_map(|p| p.base_url.as_deref())
        .collect();
    Ok(crate::proxy::providers::Http::guarded(
        Duration::from_secs(90),
        Arc::new(config.upstream_policy()?),
        &trusted,
    )?)
}

/// What the proxy takes from the configuration.
fn proxy_settings(config: &Config) -> ProxySettings {
    let providers = config
        .providers
        .iter()
        .map(|(provider, p)| {
            let settings = ProviderSettings {
                api_key: p.api_key.clone(),
                base_url: p.base_url.clone(),
            };
            (*provider, settings)
        })
        .collect();
    ProxySettings {
        credits_fee_percent: config.proxy.credits_fee_percent,
        max_body_bytes: config.proxy.max_body_bytes,
        upstream_timeout: Duration::from_secs(config.proxy.upstream_timeout_secs),
        max_retries: config.proxy.max_retries,
        providers,
    }
}

impl App {
    /// Connects, migrates, loads the cipher, catches the read models up and replays the usage
    /// spool, ready to serve.
    pub async fn start(config: Config) -> anyhow::Result<AppState> {
        Self::open(config, true).await
    }

    /// Like `start`, for commands that record no usage (`bootstrap`, `projections rebuild`):
    /// without the spool, so that they can run beside a serving process.
    pub async fn start_without_spool(config: Config) -> anyhow::Result<AppState> {
        Self::open(config, false).await
    }

    async fn open(config: Config, spooled: bool) -> anyhow::Result<AppState> {
        crate::metrics::handle();
        let db = Db::connect(&config.database.url).await?;
        db.migrate().await?;
        let cipher = Cipher::load(config.secret_key.as_ref(), config.data_dir().as_deref())?;
        let projector = Projector::new(db.clone());
        projector.catch_up().await?;
        // Before the proxy state is loaded: it counts the replayed spend like any other.
        let instance_id = uuid::Uuid::now_v7().to_string();
        let spool = if spooled {
            let (spool, left) = Spool::open(&config.spool_dir(), &instance_id)?;
            replay(&db, &projector, &left).await?;
            Some(spool)
        } else {
            None
        };
        let admin_token_hash = config
            .admin_token()
            .map(|t| Sha256::digest(t.as_bytes()).into());
        let state =
            ProxyState::load(db.clone(), projector.clone(), cipher.clone(), instance_id).await?;
        let (usage, writer) = UsageWriter::start(
            projector.clone(),
            state.clone(),
            spool.clone(),
            config.usage.batch_size,
            Duration::from_millis(config.usage.flush_ms),
        );
        let proxy = Arc::new(Proxy {
            settings: proxy_settings(&config),
            state,
            catalog: Catalog::embedded().map_err(|e| anyhow::anyhow!("model catalog: {e}"))?,
            cache: Arc::new(MemoryCache::new(config.proxy.cache_max_bytes)),
            http: upstream_client(&config)?,
            usage,
            spool,
            tasks: tokio_util::task::TaskTracker::new(),
        });
        Ok(Arc::new(Self {
            proxy,
            usage_writer: std::sync::Mutex::new(Some(writer)),
            organizations: framework(&db, ()),
            projects: framework(&db, Arc::new(ProviderCatalog) as Arc<dyn DomainServices>),
            keys: framework(&db, ()),
            webhooks: framework(&db, ()),
            alerts: framework(&db, ()),
            config,
            db,
            projector,
            cipher,
            admin_token_hash,
            runtime: tokio::runtime::Handle::current(),
        }))
    }

    /// Starts the background projector that picks up other replicas' events, and the task
    /// that keeps the proxy's in-memory state following it.
    pub fn spawn_background(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let projector = self.projector.spawn(Duration::from_millis(
            self.config.database.projector_poll_ms.max(10),
        ));
        let mut position = self.projector.subscribe();
        let state = self.proxy.state.clone();
        let follower = tokio::spawn(async move {
            while position.changed().await.is_ok() {
                let at = *position.borrow_and_update();
                if let Err(e) = state.settle(at).await {
                    tracing::warn!(error = %e, "proxy state did not follow the log");
                }
            }
        });
        vec![projector, follower]
    }

    /// Stops taking usage and waits until every recorded request is written.
    pub async fn drain_usage(&self) {
        self.proxy.usage.close();
        let writer = self.usage_writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            writer.finish().await;
        }
        // No request is left: the slices of shared limits this replica did not spend go back.
        self.proxy.state.leases.give_back().await;
        // Everything is committed: the last segment goes.
        if let Some(spool) = &self.proxy.spool {
            spool.retire();
        }
    }

    /// Constant-time comparison of a presented token with the admin token.
    pub fn is_admin_token(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.admin_token_hash
            .is_some_and(|h| bool::from(h.ct_eq(&presented)))
    }

    /// Executes a command; on a lost optimistic-lock race it re-runs it against fresh state
    /// (where it is validated again), and fails as `Concurrent` if it keeps losing. Afterwards
    /// the read models are caught up, so the caller's next read sees its write.
    pub async fn execute<A>(
        &self,
        framework: &Framework<A>,
        id: &str,
        command: A::Command,
        meta: &Meta,
    ) -> Result<(), CommandError>
    where
        A: Aggregate<Error = DomainError>,
        A::Command: Clone,
    {
        let mut attempt = 0;
        loop {
            match framework
                .execute_with_metadata(id, command.clone(), meta.to_map())
                .await
            {
                Ok(()) => break,
                Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    let jitter = rand::random::<u64>() % (5 * u64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(1 + jitter)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        // The proxy honors the change from the very next request.
        self.proxy.state.settle(LATEST).await?;
        Ok(())
    }
}
