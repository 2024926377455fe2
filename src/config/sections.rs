//! The configuration's sections: `[server]`, `[database]`, `[proxy]`, `[usage]` and
//! `[providers.<id>]`, each with its defaults.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use super::{default_max_connections, DEFAULT_DATABASE_URL, DEFAULT_LISTEN};

/// How the gateway serves HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// Event loops serving HTTP, one thread each (default: one per core). 0 serves on the
    /// main multi-threaded runtime instead.
    pub threads: usize,
    /// Worker threads of the main multi-threaded runtime (default: one per core).
    pub worker_threads: usize,
    /// Longest wait for a request's head, in milliseconds: from a connection's opening, or
    /// from the first bytes of a keep-alive connection's next request.
    pub header_timeout_ms: u64,
    /// Longest wait of a keep-alive connection for its next request, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Longest wait for a request's whole body once its head is read, in milliseconds.
    pub body_timeout_ms: u64,
    /// Client connections open at once (all serving threads together); more are answered
    /// 503 and closed. Default: half the open-file limit, at most 32,768.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            listen: DEFAULT_LISTEN.into(),
            threads: cores,
            worker_threads: cores,
            // A head arrives in one round trip; 5 s covers a slow link and bounds how long a
            // silent connection holds a descriptor (with the body's 20 s: any unfinished
            // request is closed within 25 s).
            header_timeout_ms: 5_000,
            // Pooled client connections survive the pauses of an agent's loop; idle ones
            // are still given back well within 30 s.
            idle_timeout_ms: 20_000,
            // 1 MiB (the default body limit) at 52 KB/s.
            body_timeout_ms: 20_000,
            max_connections: default_max_connections(),
        }
    }
}

/// The event store and read models.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    /// How often the projector polls for events written by other replicas, in milliseconds.
    pub projector_poll_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_DATABASE_URL.into(),
            projector_poll_ms: 250,
        }
    }
}

/// The proxy: request limits, prices, upstreams and the response cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Fee on top of catalog prices for requests paid with credits, in percent.
    pub credits_fee_percent: f64,
    /// Longest wait for an upstream answer (first byte), in seconds.
    pub upstream_timeout_secs: u64,
    /// Retries of a provider after a 429 or a 5xx, before the next fallback model (0-5).
    pub max_retries: u32,
    /// Upper bound of the response cache, in bytes.
    pub cache_max_bytes: u64,
    /// Networks a tenant's provider `base_url` may reach although they are internal
    /// (loopback, private, link-local...), in CIDR notation. Empty: none. In the file, a
    /// list or one comma-separated string.
    #[serde(deserialize_with = "string_or_list")]
    pub allowed_upstream_networks: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            credits_fee_percent: 5.0,
            upstream_timeout_secs: 300,
            max_retries: 1,
            cache_max_bytes: 256 * 1024 * 1024,
            allowed_upstream_networks: Vec::new(),
        }
    }
}

/// Usage records: the batch writer and the spool.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsageConfig {
    /// Usage batch writer: flush after this many records or this many milliseconds.
    pub batch_size: usize,
    pub flush_ms: u64,
    /// Where usage records are spooled before they are committed (see `proxy::spool`). One
    /// process per directory. Default: `tollgate-spool` next to the SQLite file, or in the
    /// working directory.
    pub spool_dir: Option<PathBuf>,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            // Fewer, larger flushes: each costs two transactions whatever its size. 25 ms
            // halved wrk's p99 at one connection, but the benchmark's own client measured 100 ms
            // better at one connection (added p50 35-39 against 49-51 µs, p99 315-366 against
            // 529-582 µs) and the same at 32 (BENCHMARKS.md, eighth session).
            batch_size: 2000,
            flush_ms: 100,
            spool_dir: None,
        }
    }
}

/// Spend alerts (webhooks).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often spend is compared with the webhooks' thresholds and due alerts are sent, in
    /// milliseconds.
    pub poll_ms: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        // An alert a second late is on time; each pass reads every webhook's keys' spend.
        Self { poll_ms: 1000 }
    }
}

/// One provider as the gateway itself uses it (credits mode) and where it lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub api_key: Option<SecretString>,
    pub base_url: Option<String>,
}

/// A list of strings, or one string (kept whole: its commas are split where it is used).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a string or a list of strings")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(list) => list,
    })
}
