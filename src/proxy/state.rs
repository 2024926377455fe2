//! What the proxy's hot path reads: keys by token hash, projects with their settings and
//! decrypted provider keys, and the money ledger — all in memory. Filled from the read models
//! at start and kept current by following the event log behind the projector: every event
//! reloads the key or project it touched (config) or moves money (credits, foreign usage).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::FastMap;
use secrecy::SecretString;
use tokio::sync::Mutex;
use tollgate_aggregates::api_key::ApiKey;
use tollgate_aggregates::organization::{Organization, OrganizationEvent};
use tollgate_aggregates::period::{PeriodBudget, RateLimits};
use tollgate_aggregates::project::Project;
use tollgate_aggregates::types::{IamRule, KeyStatus, ProjectMode};
use tollgate_aggregates::usage::{UsageEvent, USAGE_AGGREGATE_TYPE};
use tollgate_projections::events::fetch_after_except;
use tollgate_projections::{read, Db, Projector};

use super::clock::Clock;
use super::leases::{Leases, Scope};
use super::ledger::Ledger;
use crate::crypto::Cipher;
use cqrs_es::Aggregate;

#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub key_id: String,
    pub project_id: String,
    pub organization_id: String,
    /// `credits:<organization>`, the organization's credit counter (see `leases`).
    pub credits_scope: Scope,
    pub active: bool,
    pub limit_nano_usd: Option<i64>,
    /// When the key was last changed (Unix seconds): a limit set anew is counted anew
    /// across replicas (see `leases`).
    pub changed_at: i64,
    /// When the key stops working (Unix seconds).
    pub expires_at: Option<i64>,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
    /// Its budgets' counter names, made once.
    pub scopes: Scopes,
    pub rules: Arc<Vec<IamRule>>,
}

/// The names of a key's or project's budget counters (see `leases`): its id and, where a
/// change must count anew, the time it was last changed.
#[derive(Debug, Clone)]
pub struct Scopes {
    pub id: Arc<str>,
    /// A key's lifetime limit.
    pub lifetime: Scope,
    pub period: Scope,
    pub requests: Scope,
    pub tokens: Scope,
    /// Its rate limits as header values.
    pub shown: super::rate_shown::Limits,
}

impl Scopes {
    fn new(kind: &str, id: &str, changed_at: i64, rates: RateLimits) -> Self {
        let named = |what: &str| Scope::new(format!("{kind}-{what}:{id}:{changed_at}"));
        Self {
            id: Arc::from(id),
            lifetime: Scope::new(format!("{kind}:{id}")),
            period: named("period"),
            requests: named("rpm"),
            tokens: named("tpm"),
            shown: super::rate_shown::Limits::of(rates),
        }
    }
}

#[derive(Debug, Clone)]
struct TokenEntry {
    key_id: String,
    valid_until: Option<i64>,
}

#[derive(Debug)]
pub struct OwnKey {
    pub id: String,
    pub provider: tollgate_aggregates::Provider,
    pub base_url: Option<String>,
    pub secret: SecretString,
}

#[derive(Debug)]
pub struct ProjectEntry {
    pub id: String,
    pub organization_id: String,
    pub mode: ProjectMode,
    pub caching_enabled: bool,
    pub cache_ttl: Duration,
    pub archived: bool,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
    /// Default fallback chains (requested model -> models tried after it).
    pub fallbacks: tollgate_aggregates::fallbacks::Fallbacks,
    pub scopes: Scopes,
    /// When the project was last changed: a budget set anew is counted anew.
    pub changed_at: i64,
    /// Enabled provider keys only.
    pub own_keys: Vec<OwnKey>,
    /// Round-robin cursor over `own_keys`.
    next: AtomicUsize,
}

impl ProjectEntry {
    /// The project's enabled keys for `provider`, starting at the round-robin cursor and
    /// leaving out keys that failed in the last 30 seconds (unless all did).
    pub fn own_keys_for<'a>(
        &'a self,
        provider: tollgate_aggregates::Provider,
        failed: &FastMap<String, Instant>,
    ) -> Vec<&'a OwnKey> {
        let all: Vec<&OwnKey> = self
            .own_keys
            .iter()
            .filter(|k| k.provider == provider)
            .collect();
        if all.is_empty() {
            return all;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % all.len();
        let mut rotated: Vec<&OwnKey> = all[start..].iter().chain(&all[..start]).copied().collect();
        let fresh = |k: &&OwnKey| {
            failed
                .get(&k.id)
                .is_none_or(|at| at.elapsed() > Duration::from_secs(30))
        };
        if rotated.iter().any(fresh) {
            rotated.retain(fresh);
        }
        rotated
    }
}

pub struct ProxyState {
    db: Db,
    /// The read models this state follows.
    projector: Arc<Projector>,
    cipher: Cipher,
    /// This process's usage stream id: its own usage is already in the ledger.
    pub instance_id: String,
    /// By the SHA-256 of the token (see `crypto::token_digest`).
    tokens: FastMap<[u8; 32], TokenEntry>,
    keys: FastMap<String, (Arc<KeyEntry>, Vec<[u8; 32]>)>,
    projects: FastMap<String, Arc<ProjectEntry>>,
    pub ledger: Ledger,
    /// Slices of limits: shared with other replicas on Postgres, in memory on SQLite.
    pub leases: Leases,
    pub clock: Clock,
    /// Provider keys that just failed upstream, by id.
    pub failed_keys: FastMap<String, Instant>,
    /// The log position this state reflects.
    followed: Mutex<i64>,
}

type Result<T> = std::result::Result<T, tollgate_projections::Error>;

/// `settle` to everything committed so far.
pub const LATEST: i64 = i64::MAX;

impl ProxyState {
    /// Loads everything from the read models at their current checkpoint.
    pub async fn load(
        db: Db,
        projector: Arc<Projector>,
        cipher: Cipher,
        instance_id: String,
    ) -> Result<Arc<Self>> {
        let state_db = db.clone();
        let state = Arc::new(Self {
            db,
            projector,
            cipher,
            instance_id,
            tokens: FastMap::default(),
            keys: FastMap::default(),
            projects: FastMap::default(),
            leases: Leases::new(state_db),
            clock: Clock::default(),
            ledger: Ledger::default(),
            failed_keys: FastMap::default(),
            followed: Mutex::new(0),
        });
        let mut followed = state.followed.lock().await;
        // Money is read together with the checkpoint in one snapshot, so that following
        // the log from that checkpoint counts every later event exactly once.
        let snapshot = read::proxy_snapshot(&state.db).await?;
        for (organization, credits) in &snapshot.balances {
            state.ledger.set_balance(organization, *credits);
        }
        for (organization, amount) in &snapshot.grants {
            state.ledger.add_granted(organization, *amount);
        }
        for (key, spend) in &snapshot.key_spend {
            state.ledger.set_key_spend(key, *spend);
        }
        for id in &snapshot.project_ids {
            state.reload_project(id).await?;
        }
        for id in &snapshot.key_ids {
            state.reload_key(id).await?;
        }
        *followed = snapshot.checkpoint;
        drop(followed);
        Ok(state)
    }

    /// The key behind a token's digest, if the token may be used now.
    pub fn key(&self, token_digest: &[u8; 32], now: i64) -> Option<Arc<KeyEntry>> {
        self.key_or_expired(token_digest, now)
            .ok()
            .map(|(key, _)| key)
    }

    /// The key behind a token's digest if it may be used now; `Err(Some(at))` when the key
    /// expired at `at`, `Err(None)` when no usable key is behind it.
    pub fn key_or_expired(
        &self,
        token_digest: &[u8; 32],
        now: i64,
    ) -> std::result::Result<(Arc<KeyEntry>, Arc<ProjectEntry>), Option<i64>> {
        let token = self.tokens.get(token_digest).ok_or(None)?;
        if token.valid_until.is_some_and(|until| now >= until) {
            return Err(None);
        }
        let key = self.keys.get(&token.key_id).ok_or(None)?.0.clone();
        let project = self.projects.get(&key.project_id).ok_or(None)?;
        if !key.active || project.archived {
            return Err(None);
        }
        match key.expires_at {
            Some(at) if now >= at => Err(Some(at)),
            _ => Ok((key, project.clone())),
        }
    }

    pub fn project(&self, id: &str) -> Option<Arc<ProjectEntry>> {
        self.projects.get(id).map(|p| p.clone())
    }

    /// After a write: brings the read models to at least `position` (`LATEST`: everything
    /// committed so far) unless they are there already, then this state to them. Every writer
    /// calls it (a command, the usage writer, the follower of other replicas' events), so that
    /// the next request here sees the write.
    pub async fn settle(&self, position: i64) -> Result<i64> {
        let mut projected = *self.projector.subscribe().borrow();
        if projected < position {
            projected = self.projector.catch_up().await?;
        }
        self.follow(projected).await?;
        Ok(projected)
    }

    /// Applies the events between what this state reflects and what the read models reflect
    /// (`projected`), in log order.
    async fn follow(&self, projected: i64) -> Result<()> {
        const PAGE: i64 = 1000;
        let mut followed = self.followed.lock().await;
        while *followed < projected {
            crate::metrics::db_queries("proxy_state", 1);
            // This process's own usage is already in the ledger: not even read back.
            let own = (USAGE_AGGREGATE_TYPE, self.instance_id.as_str());
            let events = fetch_after_except(&self.db, *followed, PAGE, own).await?;
            for event in events.iter().take_while(|e| e.position <= projected) {
                self.apply(event).await?;
                *followed = event.position;
            }
            if (events.len() as i64) < PAGE
                || events.last().is_some_and(|e| e.position >= projected)
            {
                *followed = projected;
            }
        }
        Ok(())
    }

    async fn apply(&self, event: &tollgate_projections::StoredEvent) -> Result<()> {
        let id = event.aggregate_id.as_str();
        match event.aggregate_type.as_str() {
            ApiKey::TYPE => self.reload_key(id).await?,
            Project::TYPE => self.reload_project(id).await?,
            Organization::TYPE => {
                if let OrganizationEvent::CreditsAdded {
                    amount_nano_usd, ..
                } = event.decode()?
                {
                    self.ledger.add_credits(id, amount_nano_usd);
                }
            }
            USAGE_AGGREGATE_TYPE if id != self.instance_id => {
                let UsageEvent::UsageRecorded { records } = event.decode()?;
                for r in records {
                    self.ledger.add_key_spend(&r.key_id, r.total_nano_usd());
                    self.ledger
                        .add_balance(&r.organization_id, -r.charged_to_credits());
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn reload_key(&self, id: &str) -> Result<()> {
        crate::metrics::db_queries("proxy_state", 3);
        if let Some((_, (_, hashes))) = self.keys.remove(id) {
            for h in hashes {
                self.tokens.remove(&h);
            }
        }
        let Some(row) = read::api_key(&self.db, id).await? else {
            return Ok(());
        };
        let rules = read::iam_rules(&self.db, id).await?;
        let tokens = read::key_tokens(&self.db, id).await?;
        let mut hashes = Vec::new();
        for read::KeyToken {
            token_hash,
            valid_until,
        } in tokens
        {
            // Every hash the service writes is 64 hex digits; anything else matches no token.
            let Some(digest) = crate::crypto::digest_of_hash(&token_hash) else {
                tracing::warn!(key_id = id, "stored token hash is not a SHA-256; skipped");
                continue;
            };
            self.tokens.insert(
                digest,
                TokenEntry {
                    key_id: id.to_string(),
                    valid_until,
                },
            );
            hashes.push(digest);
        }
        let entry = KeyEntry {
            key_id: row.id,
            project_id: row.project_id,
            credits_scope: Scope::new(format!("credits:{}", row.organization_id)),
            organization_id: row.organization_id,
            active: row.status == KeyStatus::Active,
            limit_nano_usd: row.usage_limit_nano_usd,
            changed_at: row.updated_at,
            expires_at: row.expires_at,
            period_budget: row.period_budget,
            rate_limits: row.rate_limits,
            scopes: Scopes::new("key", id, row.updated_at, row.rate_limits),
            rules: Arc::new(rules),
        };
        self.keys.insert(id.to_string(), (Arc::new(entry), hashes));
        Ok(())
    }

    async fn reload_project(&self, id: &str) -> Result<()> {
        crate::metrics::db_queries("proxy_state", 2);
        let Some(row) = read::project(&self.db, id).await? else {
            self.projects.remove(id);
            return Ok(());
        };
        let mut own_keys = Vec::new();
        for k in read::provider_keys_of(&self.db, id)
            .await?
            .into_iter()
            .filter(|k| k.enabled)
        {
            match self.cipher.decrypt(&k.encrypted_key) {
                Ok(secret) => own_keys.push(OwnKey {
                    id: k.id,
                    provider: k.provider,
                    base_url: k.base_url,
                    secret: secret.into(),
                }),
                Err(e) => {
                    tracing::error!(provider_key = %k.id, error = %e, "provider key cannot be decrypted; skipped")
                }
            }
        }
        let entry = ProjectEntry {
            id: row.id,
            organization_id: row.organization_id,
            mode: row.mode,
            caching_enabled: row.caching_enabled,
            cache_ttl: Duration::from_secs(row.cache_duration_seconds.max(0) as u64),
            archived: row.archived,
            period_budget: row.period_budget,
            rate_limits: row.rate_limits,
            fallbacks: row.fallbacks,
            scopes: Scopes::new("project", id, row.updated_at, row.rate_limits),
            changed_at: row.updated_at,
            own_keys,
            next: AtomicUsize::new(0),
        };
        self.projects.insert(id.to_string(), Arc::new(entry));
        Ok(())
    }
}
