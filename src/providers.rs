//! The aggregates' view of the providers the gateway knows: the ids of [`Provider`].

use tollgate_aggregates::{DomainServices, Provider};

/// Answers the aggregates' provider questions from [`Provider`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderCatalog;

impl DomainServices for ProviderCatalog {
    fn is_known_provider(&self, provider: &str) -> bool {
        Provider::parse(provider).is_some()
    }
}
