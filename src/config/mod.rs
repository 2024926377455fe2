//! Configuration, in layers: the defaults, then an optional TOML file (`TOLLGATE_CONFIG`, in
//! sections `[server]`, `[database]`, `[proxy]`, `[usage]`, `[providers.<id>]`), then the
//! `TOLLGATE_*` environment variables (`env::VARIABLES` maps each to its key). Secrets are
//! wrapped so that they never reach Debug output or logs.

mod env;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tollgate_aggregates::Provider;

use crate::upstream_policy::UpstreamPolicy;

pub use env::{variable_for, variables, Kind, Variable, VARIABLES};
pub use sections::{
    AlertsConfig, DatabaseConfig, ProviderConfig, ProxyConfig, ServerConfig, UsageConfig,
};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://tollgate.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Most retries of a provider one request may make: each holds the client longer.
pub const MAX_RETRIES: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub proxy: ProxyConfig,
    pub usage: UsageConfig,
    pub alerts: AlertsConfig,
    /// The gateway's own provider credentials and base URLs, by provider id.
    pub providers: BTreeMap<Provider, ProviderConfig>,
    /// Gateway admin token; without it the admin-only routes answer 401.
    pub admin_token: Option<SecretString>,
    /// 32 bytes, base64: encrypts provider keys at rest.
    pub secret_key: Option<SecretString>,
    pub log_format: LogFormat,
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
    Invalid { name: String, message: String },
}

impl Config {
    /// The file named by `TOLLGATE_CONFIG` (if any), overridden by the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("TOLLGATE_CONFIG").map(PathBuf::from);
        Self::from_layers(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// The defaults, overridden by `file` (if any), overridden by the variables `get` returns;
    /// validated.
    pub fn from_layers(
        file: Option<&Path>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut tree = match file {
            Some(path) => read_file(path)?,
            None => toml::Table::new(),
        };
        let from_env = env::overlay(&mut tree, get);
        let config: Self =
            serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
                let key = e.path().to_string();
                let name = match from_env.iter().find(|v| v.key() == key) {
                    Some(var) => format!("{} ({key})", var.name),
                    None => match file {
                        Some(path) => format!("config file {}: {key}", path.display()),
                        None => key,
                    },
                };
                ConfigError::Invalid {
                    name,
                    message: e.into_inner().message().to_string(),
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what deserialization cannot see (a file or the environment may have set these):
    /// the database URL names a store the gateway supports, the server's limits are positive,
    /// the credits fee is a percentage and the upstream policy parses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        tollgate_projections::db::check_url(&self.database.url)
            .map_err(|e| invalid("database.url", &e.to_string()))?;
        self.upstream_policy()?;
        let fee = self.proxy.credits_fee_percent;
        if !(fee.is_finite() && fee >= 0.0) {
            return Err(invalid("proxy.credits_fee_percent", "must be a percentage"));
        }
        if self.proxy.max_retries > MAX_RETRIES {
            let message = format!("must be 0 to {MAX_RETRIES}");
            return Err(invalid("proxy.max_retries", &message));
        }
        let s = &self.server;
        let zero = [
            ("server.worker_threads", s.worker_threads == 0),
            ("server.header_timeout_ms", s.header_timeout_ms == 0),
            ("server.idle_timeout_ms", s.idle_timeout_ms == 0),
            ("server.body_timeout_ms", s.body_timeout_ms == 0),
            ("server.max_connections", s.max_connections == 0),
        ];
        match zero.into_iter().find(|(_, z)| *z) {
            Some((key, _)) => Err(invalid(key, "must be greater than zero")),
            None => Ok(()),
        }
    }

    /// What a tenant's provider `base_url` may reach.
    pub fn upstream_policy(&self) -> Result<UpstreamPolicy, ConfigError> {
        UpstreamPolicy::parse(&self.proxy.allowed_upstream_networks)
            .map_err(|message| invalid("proxy.allowed_upstream_networks", &message))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    /// The directory that holds the SQLite file (where a generated secret key is kept).
    pub fn data_dir(&self) -> Option<PathBuf> {
        let rest = self.database.url.strip_prefix("sqlite:")?;
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
        match (&self.usage.spool_dir, self.data_dir()) {
            (Some(dir), _) => dir.clone(),
            (None, Some(data)) => data.join("tollgate-spool"),
            (None, None) => PathBuf::from("tollgate-spool"),
        }
    }

    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_ref().map(|s| s.expose_secret())
    }
}

/// The file's text as a TOML table.
fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    text.parse().map_err(|source| ConfigError::Parse {
        path: path.into(),
        source,
    })
}

/// Half the open-file limit (the other half is for the upstream connection each request may
/// hold, the database pool and files), at most 32,768 (each connection costs memory too).
pub fn default_max_connections() -> usize {
    let files = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(files / 2)
        .unwrap_or(usize::MAX)
        .clamp(1, 32_768)
}

/// An error about the key `key` (`server.listen`), named by the key and its variable:
/// `server.listen (TOLLGATE_LISTEN)`.
fn invalid(key: &str, message: &str) -> ConfigError {
    let name = match variable_for(key) {
        Some(var) => format!("{key} ({var})"),
        None => key.to_string(),
    };
    ConfigError::Invalid {
        name,
        message: message.into(),
    }
}
