//! What the proxy takes from the gateway's configuration, fixed at start: the credits fee,
//! the body limit, the upstream timeout, and the gateway's own provider credentials and base
//! URLs. The service builds it from its `Config`; the proxy reads nothing else of it.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tollgate_aggregates::Provider;

#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Fee on top of catalog prices for requests paid with credits, in percent.
    pub credits_fee_percent: f64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest wait for an upstream answer (a stream's first byte).
    pub upstream_timeout: Duration,
    /// Retries of one route after a 429 or a 5xx (`fallback::retry_delay`).
    pub max_retries: u32,
    /// The gateway's own credentials and base URLs.
    pub providers: BTreeMap<Provider, ProviderSettings>,
}

/// One provider as the gateway itself uses it (credits mode) and where it lives.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub api_key: Option<SecretString>,
    pub base_url: Option<String>,
}

impl ProxySettings {
    /// The gateway's own key for `provider`, if configured.
    pub fn provider_key(&self, provider: Provider) -> Option<&str> {
        self.providers
            .get(&provider)?
            .api_key
            .as_ref()
            .map(|k| k.expose_secret())
    }

    /// The operator's base URL for `provider`, if configured.
    pub fn base_url(&self, provider: Provider) -> Option<&str> {
        self.providers.get(&provider)?.base_url.as_deref()
    }
}
