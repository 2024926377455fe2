//! Model catalog: the models the gateway knows, which providers serve them, and at what price.
//!
//! The catalog ships embedded in the binary (`schemas/models.json`) and is validated when loaded.
//! Prices are list prices in USD per million tokens.
//!
//! Requested model strings are resolved with [`Catalog::resolve`]:
//! * `gpt-4o` (a catalog id) or `claude-sonnet-4-5-20250929` (a provider's own model name):
//!   every offer of that model, cheapest first;
//! * `anthropic/claude-sonnet-4-5` or `together/meta-llama/Llama-3.3-70B-Instruct-Turbo`:
//!   the offer of that provider only;
//! * `custom/<anything>`: a synthetic, unpriced entry routed to the "custom" provider.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tollgate_aggregates::Provider;

const EMBEDDED_CATALOG: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/models.json"));

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub tools: bool,
    pub json_mode: bool,
    pub streaming: bool,
    pub vision: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderOffer {
    /// Any provider but [`Provider::Custom`] (user-configured upstreams, never listed in the
    /// catalog itself); an unknown id fails the catalog's parsing.
    pub provider: Provider,
    pub model: String,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
    #[serde(default)]
    pub cached_input_usd_per_mtok: Option<f64>,
    /// Prompt tokens written to the provider's cache (Anthropic: 1.25x input for its
    /// five-minute cache); input's price when absent.
    #[serde(default)]
    pub cache_write_usd_per_mtok: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Chat,
    Embedding,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    pub context_window: u64,
    pub max_output_tokens: u64,
    pub capabilities: Capabilities,
    pub providers: Vec<ProviderOffer>,
}

impl ProviderOffer {
    /// True when both the input and the output price are zero.
    pub fn is_free(&self) -> bool {
        self.input_usd_per_mtok == 0.0 && self.output_usd_per_mtok == 0.0
    }

    fn price_key(&self) -> f64 {
        self.input_usd_per_mtok + self.output_usd_per_mtok
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResolveError {
    #[error("model '{0}' not found")]
    ModelNotFound(String),
    #[error("unknown provider '{0}'")]
    UnknownProvider(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    models: Vec<ModelEntry>,
}

/// The validated model catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Entries in file order, shared with the routes that use them (a request clones the
    /// pointer, not the entry and its offers).
    models: Vec<Arc<ModelEntry>>,
    /// Catalog id -> index into `models`.
    by_id: HashMap<String, usize>,
    /// Provider id -> provider's model name -> index into `models`.
    by_offer: HashMap<Provider, HashMap<String, usize>>,
}

impl Catalog {
    /// Parses and validates the catalog embedded at build time (`schemas/models.json`).
    pub fn embedded() -> Result<Self, String> {
        Self::from_json(EMBEDDED_CATALOG).map_err(|e| format!("embedded model catalog: {e}"))
    }

    /// Parses and validates a catalog document (`{"models": [...]}`).
    ///
    /// Rules: ids are non-empty and unique; every model has at least one offer; providers are
    /// known ids (not "custom") and appear at most once per model; provider model names are
    /// non-empty and each (provider, model name) pair belongs to one model only; every price
    /// is finite and not negative.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: CatalogFile =
            serde_json::from_str(text).map_err(|e| format!("invalid model catalog: {e}"))?;
        let mut by_id = HashMap::with_capacity(file.models.len());
        let mut by_offer: HashMap<Provider, HashMap<String, usize>> = HashMap::new();
        for (idx, entry) in file.models.iter().enumerate() {
            validate_entry(entry)?;
            if by_id.insert(entry.id.clone(), idx).is_some() {
                return Err(format!("duplicate model id '{}'", entry.id));
            }
            for offer in &entry.providers {
                let names = by_offer.entry(offer.provider).or_default();
                if let Some(&other) = names.get(&offer.model) {
                    let other_id = file.models.get(other).map_or("?", |m| m.id.as_str());
                    return Err(format!(
                        "model '{}': offer {}/{} is already listed under model '{}'",
                        entry.id, offer.provider, offer.model, other_id
                    ));
                }
                names.insert(offer.model.clone(), idx);
            }
        }
        Ok(Self {
            models: file.models.into_iter().map(Arc::new).collect(),
            by_id,
            by_offer,
        })
    }

    /// All entries, in file order.
    pub fn models(&self) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter().map(|m| &**m)
    }

    /// The entries as shared pointers, for routes that keep them.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<ModelEntry>> {
        self.models.iter()
    }

    /// The entry with this catalog id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.by_id
            .get(id)
            .and_then(|&idx| self.models.get(idx))
            .map(|m| &**m)
    }

    /// Resolves a requested model string. "provider/model" picks that provider when `provider` is a known
    /// provider id (the model part may itself contain '/'): the model part matches either a catalog id
    /// offered by that provider or that provider's own model name. `"custom/<anything>"` resolves to a
    /// synthetic entry (kind chat, all capabilities true, prices 0, context 0) offered by "custom" with
    /// model `<anything>`. A bare id (e.g. "gpt-4o", or a provider model name such as "claude-sonnet-4-5-20250929")
    /// returns all offers of that model, cheapest first (by input+output price, ties by provider id).
    /// If the string has a '/' and the part before it is not a provider id, try the whole string as a bare id
    /// (ids like "meta-llama/..." exist); if nothing matches and the prefix looks like a provider id (no dots,
    /// lowercase letters/digits/hyphens) -> UnknownProvider, else ModelNotFound.
    ///
    /// When the prefix is a known provider but that provider offers no such model, the whole string
    /// is also tried as a bare id, because provider model names may start with a provider id
    /// (groq's "openai/gpt-oss-120b").
    pub fn resolve(
        &self,
        requested: &str,
    ) -> Result<(Arc<ModelEntry>, Vec<ProviderOffer>), ResolveError> {
        let not_found = || ResolveError::ModelNotFound(requested.to_string());
        let Some((prefix, rest)) = requested.split_once('/') else {
            return self.resolve_bare(requested).ok_or_else(not_found);
        };
        match Provider::parse(prefix) {
            Some(Provider::Custom) if rest.is_empty() => return Err(not_found()),
            Some(Provider::Custom) => return Ok(custom_entry(requested, rest)),
            Some(provider) => {
                return self
                    .resolve_with_provider(provider, rest)
                    .or_else(|| self.resolve_bare(requested))
                    .ok_or_else(not_found)
            }
            None => {}
        }
        if let Some(found) = self.resolve_bare(requested) {
            return Ok(found);
        }
        if looks_like_provider_id(prefix) {
            Err(ResolveError::UnknownProvider(prefix.to_string()))
        } else {
            Err(not_found())
        }
    }

    /// A catalog id or a provider model name: the entry and all its offers, cheapest first.
    fn resolve_bare(&self, name: &str) -> Option<(Arc<ModelEntry>, Vec<ProviderOffer>)> {
        let idx = match self.by_id.get(name) {
            Some(&idx) => idx,
            // Several providers may use the same model name; the earliest entry in the file wins.
            None => self
                .by_offer
                .values()
                .filter_map(|names| names.get(name).copied())
                .min()?,
        };
        let entry = self.models.get(idx)?;
        let mut offers = entry.providers.clone();
        offers.sort_by(cheapest_first);
        Some((entry.clone(), offers))
    }

    /// `name` is a catalog id offered by `provider`, or `provider`'s own model name.
    fn resolve_with_provider(
        &self,
        provider: Provider,
        name: &str,
    ) -> Option<(Arc<ModelEntry>, Vec<ProviderOffer>)> {
        if let Some(entry) = self.by_id.get(name).and_then(|&i| self.models.get(i)) {
            if let Some(offer) = entry.providers.iter().find(|o| o.provider == provider) {
                return Some((entry.clone(), vec![offer.clone()]));
            }
        }
        let idx = *self.by_offer.get(&provider)?.get(name)?;
        let entry = self.models.get(idx)?;
        let offer = entry
            .providers
            .iter()
            .find(|o| o.provider == provider && o.model == name)?;
        Some((entry.clone(), vec![offer.clone()]))
    }
}

/// Non-empty, lowercase ASCII letters, digits and hyphens only (so no dots, no uppercase).
fn looks_like_provider_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn cheapest_first(a: &ProviderOffer, b: &ProviderOffer) -> Ordering {
    a.price_key()
        .total_cmp(&b.price_key())
        .then_with(|| a.provider.id().cmp(b.provider.id()))
}

fn custom_entry(requested: &str, model: &str) -> (Arc<ModelEntry>, Vec<ProviderOffer>) {
    let offer = ProviderOffer {
        provider: Provider::Custom,
        model: model.to_string(),
        input_usd_per_mtok: 0.0,
        output_usd_per_mtok: 0.0,
        cached_input_usd_per_mtok: None,
        cache_write_usd_per_mtok: None,
    };
    let entry = ModelEntry {
        id: requested.to_string(),
        name: model.to_string(),
        kind: ModelKind::Chat,
        context_window: 0,
        max_output_tokens: 0,
        capabilities: Capabilities {
            tools: true,
            json_mode: true,
            streaming: true,
            vision: true,
        },
        providers: vec![offer.clone()],
    };
    (Arc::new(entry), vec![offer])
}

fn validate_entry(entry: &ModelEntry) -> Result<(), String> {
    let id = &entry.id;
    if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid model id '{id}': empty or contains whitespace"
        ));
    }
    if id.starts_with("custom/") {
        return Err(format!(
            "invalid model id '{id}': the 'custom/' prefix is reserved"
        ));
    }
    if entry.providers.is_empty() {
        return Err(format!("model '{id}' has no providers"));
    }
    for (n, offer) in entry.providers.iter().enumerate() {
        let provider = offer.provider;
        if provider == Provider::Custom {
            return Err(format!("model '{id}': unknown provider '{provider}'"));
        }
        if entry
            .providers
            .iter()
            .take(n)
            .any(|o| o.provider == provider)
        {
            return Err(format!(
                "model '{id}': provider '{provider}' is listed twice"
            ));
        }
        if offer.model.trim().is_empty() {
            return Err(format!(
                "model '{id}': provider '{provider}' has an empty model name"
            ));
        }
        let prices = [
            ("input_usd_per_mtok", Some(offer.input_usd_per_mtok)),
            ("output_usd_per_mtok", Some(offer.output_usd_per_mtok)),
            ("cached_input_usd_per_mtok", offer.cached_input_usd_per_mtok),
            ("cache_write_usd_per_mtok", offer.cache_write_usd_per_mtok),
        ];
        for (field, value) in prices {
            if let Some(v) = value {
                if !v.is_finite() || v < 0.0 {
                    return Err(format!(
                        "model '{id}': provider '{provider}' has invalid {field} {v} (must be finite and >= 0)"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
