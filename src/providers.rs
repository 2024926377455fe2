//! Provider ids the gateway knows. The proxy's catalog (next) maps models onto these.

use tollgate_aggregates::DomainServices;

pub const KNOWN_PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "mistral",
    "groq",
    "deepseek",
    "xai",
    "together",
    "openrouter",
    "custom",
];

/// The aggregates' view of the provider list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderCatalog;

impl DomainServices for ProviderCatalog {
    fn is_known_provider(&self, provider: &str) -> bool {
        KNOWN_PROVIDERS.contains(&provider)
    }
}
