//! Configuration: an optional TOML file (`TOLLGATE_CONFIG`), then `TOLLGATE_*` environment
//! variables on top. Secrets are wrapped so that they never reach Debug output or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::upstream_policy::UpstreamPolicy;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://tollgate.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    /// Gateway admin token; without it the admin-only routes answer 401.
    pub admin_token: Option<SecretString>,
    /// 32 bytes, base64: encrypts provider keys at rest.
    pub secret_key: Option<SecretString>,
    pub log_format: LogFormat,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How often the projector polls for events written by other replicas, in milliseconds.
    pub projector_poll_ms: u64,
    /// The gateway's own provider credentials and base URLs, by provider id.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Fee on top of catalog prices for requests paid with credits, in percent.
    pub credits_fee_percent: f64,
    /// Longest wait for an upstream answer (first byte), in seconds.
    pub upstream_timeout_secs: u64,
    /// Upper bound of the response cache, in bytes.
    pub cache_max_bytes: u64,
    /// Usage batch writer: flush after this many records or this many milliseconds.
    pub usage_batch_size: usize,
    pub usage_flush_ms: u64,
    /// Event loops serving HTTP, one thread each (default: one per core). 0 serves on the
    /// main multi-threaded runtime instead.
    pub server_threads: usize,
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
    /// Networks a tenant's provider `base_url` may reach although they are internal
    /// (loopback, private, link-local...), in CIDR notation. Empty: none.
    pub allowed_upstream_networks: Vec<String>,
    /// Where usage records are spooled before they are committed (see `proxy::spool`). One
    /// process per directory. Default: `tollgate-spool` next to the SQLite file, or in the
    /// working directory.
    pub spool_dir: Option<PathBuf>,
}

/// One provider as the gateway itself uses it (credits mode) and where it lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub api_key: Option<SecretString>,
    pub base_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            listen: DEFAULT_LISTEN.into(),
            admin_token: None,
            secret_key: None,
            log_format: LogFormat::Text,
            max_body_bytes: 1024 * 1024,
            projector_poll_ms: 250,
            providers: BTreeMap::new(),
            credits_fee_percent: 5.0,
            upstream_timeout_secs: 300,
            cache_max_bytes: 256 * 1024 * 1024,
            // Fewer, larger flushes: each costs two transactions whatever its size. 25 ms
            // halved wrk's p99 at one connection, but the benchmark's own client measured 100 ms
            // better at one connection (added p50 35-39 against 49-51 µs, p99 315-366 against
            // 529-582 µs) and the same at 32 (BENCHMARKS.md, eighth session).
            usage_batch_size: 2000,
            usage_flush_ms: 100,
            server_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
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
            allowed_upstream_networks: Vec::new(),
            spool_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

impl Config {
    /// The file named by `TOLLGATE_CONFIG` (if any), overridden by the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut config = match std::env::var_os("TOLLGATE_CONFIG") {
            Some(path) => Self::from_file(Path::new(&path))?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    /// Overrides fields from `TOLLGATE_<FIELD>` variables, read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("TOLLGATE_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("TOLLGATE_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("TOLLGATE_ADMIN_TOKEN").filter(|v| !v.is_empty()) {
            self.admin_token = Some(v.into());
        }
        if let Some(v) = get("TOLLGATE_SECRET_KEY").filter(|v| !v.is_empty()) {
            self.secret_key = Some(v.into());
        }
        if let Some(v) = get("TOLLGATE_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => return Err(invalid("TOLLGATE_LOG_FORMAT", "must be json or text")),
            };
        }
        if let Some(v) = get("TOLLGATE_MAX_BODY_BYTES") {
            self.max_body_bytes = v
                .parse()
                .map_err(|_| invalid("TOLLGATE_MAX_BODY_BYTES", "must be a number of bytes"))?;
        }
        if let Some(v) = get("TOLLGATE_PROJECTOR_POLL_MS") {
            self.projector_poll_ms = v
                .parse()
                .map_err(|_| invalid("TOLLGATE_PROJECTOR_POLL_MS", "must be milliseconds"))?;
        }
        if let Some(v) = get("TOLLGATE_CREDITS_FEE_PERCENT") {
            self.credits_fee_percent = v
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| invalid("TOLLGATE_CREDITS_FEE_PERCENT", "must be a percentage"))?;
        }
        if let Some(v) = get("TOLLGATE_UPSTREAM_TIMEOUT_SECS") {
            self.upstream_timeout_secs = v
                .parse()
                .map_err(|_| invalid("TOLLGATE_UPSTREAM_TIMEOUT_SECS", "must be seconds"))?;
        }
        if let Some(v) = get("TOLLGATE_HEADER_TIMEOUT_MS") {
            self.header_timeout_ms = positive(&v, "TOLLGATE_HEADER_TIMEOUT_MS", "milliseconds")?;
        }
        if let Some(v) = get("TOLLGATE_IDLE_TIMEOUT_MS") {
            self.idle_timeout_ms = positive(&v, "TOLLGATE_IDLE_TIMEOUT_MS", "milliseconds")?;
        }
        if let Some(v) = get("TOLLGATE_BODY_TIMEOUT_MS") {
            self.body_timeout_ms = positive(&v, "TOLLGATE_BODY_TIMEOUT_MS", "milliseconds")?;
        }
        if let Some(v) = get("TOLLGATE_MAX_CONNECTIONS") {
            self.max_connections =
                positive(&v, "TOLLGATE_MAX_CONNECTIONS", "a number of connections")?;
        }
        if let Some(v) = get("TOLLGATE_ALLOWED_UPSTREAM_NETWORKS") {
            self.allowed_upstream_networks = vec![v];
        }
        if let Some(v) = get("TOLLGATE_SERVER_THREADS") {
            self.server_threads = v
                .parse()
                .map_err(|_| invalid("TOLLGATE_SERVER_THREADS", "must be a number of threads"))?;
        }
        if let Some(v) = get("TOLLGATE_SPOOL_DIR").filter(|v| !v.is_empty()) {
            self.spool_dir = Some(PathBuf::from(v));
        }
        for provider in tollgate_aggregates::Provider::ALL.map(|p| p.id()) {
            let name = provider.to_uppercase();
            let key = get(&format!("TOLLGATE_PROVIDER_{name}_API_KEY")).filter(|v| !v.is_empty());
            let url = get(&format!("TOLLGATE_PROVIDER_{name}_BASE_URL")).filter(|v| !v.is_empty());
            if key.is_some() || url.is_some() {
                let entry = self.providers.entry(provider.to_string()).or_default();
                if let Some(k) = key {
                    entry.api_key = Some(k.into());
                }
                if url.is_some() {
                    entry.base_url = url;
                }
            }
        }
        Ok(())
    }

    /// Checks what `apply_env` cannot see field by field (a file may have set these too): the
    /// database URL names a store the gateway supports, and the server's limits are positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        tollgate_projections::db::check_url(&self.database_url).map_err(|e| {
            ConfigError::Invalid {
                name: "database_url (TOLLGATE_DATABASE_URL)",
                message: e.to_string(),
            }
        })?;
        self.upstream_policy()?;
        let zero = [
            ("header_timeout_ms", self.header_timeout_ms == 0),
            ("idle_timeout_ms", self.idle_timeout_ms == 0),
            ("body_timeout_ms", self.body_timeout_ms == 0),
            ("max_connections", self.max_connections == 0),
        ];
        match zero.into_iter().find(|(_, z)| *z) {
            Some((name, _)) => Err(invalid(name, "must be greater than zero")),
            None => Ok(()),
        }
    }

    /// What a tenant's provider `base_url` may reach.
    pub fn upstream_policy(&self) -> Result<UpstreamPolicy, ConfigError> {
        UpstreamPolicy::parse(&self.allowed_upstream_networks).map_err(|message| {
            ConfigError::Invalid {
                name: "allowed_upstream_networks (TOLLGATE_ALLOWED_UPSTREAM_NETWORKS)",
                message,
            }
        })
    }

    /// The gateway's own key for `provider`, if configured.
    pub fn provider_key(&self, provider: &str) -> Option<&str> {
        self.providers
            .get(provider)?
            .api_key
            .as_ref()
            .map(|k| k.expose_secret())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The directory that holds the SQLite file (where a generated secret key is kept).
    pub fn data_dir(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let path = rest.trim_start_matches("//").split('?').next()?;
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        let parent = Path::new(path).parent()?;
        Some(if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        })
    }

    /// The usage spool's directory: as set, else `tollgate-spool` in the data directory (or
    /// the working directory).
    pub fn spool_dir(&self) -> PathBuf {
        match (&self.spool_dir, self.data_dir()) {
            (Some(dir), _) => dir.clone(),
            (None, Some(data)) => data.join("tollgate-spool"),
            (None, None) => PathBuf::from("tollgate-spool"),
        }
    }

    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_ref().map(|s| s.expose_secret())
    }
}

/// Half the open-file limit (the other half is for the upstream connection each request may
/// hold, the database pool and files), at most 32,768 (each connection costs memory too).
pub fn default_max_connections() -> usize {
    let files = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(files / 2)
        .unwrap_or(usize::MAX)
        .clamp(1, 32_768)
}

/// A whole number above zero.
fn positive<T: std::str::FromStr + PartialOrd + Default>(
    v: &str,
    name: &'static str,
    unit: &str,
) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .ok()
        .filter(|n: &T| *n > T::default())
        .ok_or_else(|| invalid(name, &format!("must be {unit}, greater than zero")))
}

fn invalid(name: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults_and_secrets_do_not_print() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "TOLLGATE_ADMIN_TOKEN" => Some("super-secret-admin".into()),
            "TOLLGATE_LISTEN" => Some("0.0.0.0:9".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9");
        assert_eq!(c.admin_token(), Some("super-secret-admin"));
        assert!(!format!("{c:?}").contains("super-secret-admin"));
    }

    #[test]
    fn bad_log_format_is_an_error() {
        let mut c = Config::default();
        let err = c.apply_env(|k| (k == "TOLLGATE_LOG_FORMAT").then(|| "xml".into()));
        assert!(err.is_err());
    }

    #[test]
    fn server_limits_must_be_positive_numbers() {
        for name in [
            "TOLLGATE_HEADER_TIMEOUT_MS",
            "TOLLGATE_IDLE_TIMEOUT_MS",
            "TOLLGATE_BODY_TIMEOUT_MS",
            "TOLLGATE_MAX_CONNECTIONS",
        ] {
            for bad in ["0", "-5", "soon", ""] {
                let mut c = Config::default();
                let err = c
                    .apply_env(|k| (k == name).then(|| bad.into()))
                    .unwrap_err();
                assert!(err.to_string().contains(name), "{err}");
            }
        }
        let mut c = Config::default();
        c.apply_env(|k| (k == "TOLLGATE_MAX_CONNECTIONS").then(|| "7".into()))
            .unwrap();
        assert_eq!(c.max_connections, 7);
        assert!(c.validate().is_ok());
        c.header_timeout_ms = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn data_dir_follows_the_sqlite_path() {
        let mut c = Config::default();
        assert_eq!(c.data_dir(), Some(PathBuf::from(".")));
        c.database_url = "sqlite:///var/lib/tg/x.db?mode=rwc".into();
        assert_eq!(c.data_dir(), Some(PathBuf::from("/var/lib/tg")));
        assert_eq!(c.spool_dir(), PathBuf::from("/var/lib/tg/tollgate-spool"));
        c.database_url = "postgres://localhost/x".into();
        assert_eq!(c.data_dir(), None);
        assert_eq!(c.spool_dir(), PathBuf::from("tollgate-spool"));
        c.apply_env(|k| (k == "TOLLGATE_SPOOL_DIR").then(|| "/run/tg-spool".into()))
            .unwrap();
        assert_eq!(c.spool_dir(), PathBuf::from("/run/tg-spool"));
    }
}
