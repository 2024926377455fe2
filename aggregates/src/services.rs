//! Checks that need knowledge from outside the event stream.

/// Implemented by the service (from its provider catalog); tests use a fixed list.
pub trait DomainServices: Send + Sync {
    /// Whether `provider` names a provider the gateway can route to.
    fn is_known_provider(&self, provider: &str) -> bool;
}

/// A fixed provider list, for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct StaticProviders(pub Vec<String>);

impl DomainServices for StaticProviders {
    fn is_known_provider(&self, provider: &str) -> bool {
        self.0.iter().any(|p| p == provider)
    }
}
