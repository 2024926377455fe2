//! The upstream providers the gateway knows, as one type shared by the domain, the read models
//! and the service. A provider is written as its id ("openai", "anthropic", ...) wherever it is
//! stored or sent; how the proxy speaks to it lives with the proxy.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An upstream provider. Ordered by id, like the strings it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Google,
    Mistral,
    Groq,
    DeepSeek,
    Xai,
    Together,
    OpenRouter,
    /// A custom OpenAI-compatible host: its provider key carries the base URL. Never in the
    /// model catalog.
    Custom,
}

impl Provider {
    /// Every provider, `Custom` last.
    pub const ALL: [Provider; 10] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Google,
        Provider::Mistral,
        Provider::Groq,
        Provider::DeepSeek,
        Provider::Xai,
        Provider::Together,
        Provider::OpenRouter,
        Provider::Custom,
    ];

    /// The provider's id: how it is written in configuration, events, the catalog and headers.
    pub const fn id(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::Mistral => "mistral",
            Provider::Groq => "groq",
            Provider::DeepSeek => "deepseek",
            Provider::Xai => "xai",
            Provider::Together => "together",
            Provider::OpenRouter => "openrouter",
            Provider::Custom => "custom",
        }
    }

    /// The provider with this id (exact, lowercase); `None` for an unknown id.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl PartialOrd for Provider {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Provider {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id().cmp(other.id())
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = Provider;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a provider id")
            }
            fn visit_str<E: serde::de::Error>(self, id: &str) -> Result<Provider, E> {
                Provider::parse(id).ok_or_else(|| E::custom(format!("unknown provider '{id}'")))
            }
        }
        deserializer.deserialize_str(Id)
    }
}

#[cfg(test)]
mod tests {
    use super::Provider;

    #[test]
    fn ids_parse_back_and_are_unique() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.id()), Some(p));
            assert_eq!(p.to_string(), p.id());
        }
        let mut ids: Vec<&str> = Provider::ALL.iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Provider::ALL.len());
    }

    #[test]
    fn unknown_ids_are_none() {
        for id in ["", "azure", "OpenAI", " openai", "openai "] {
            assert_eq!(Provider::parse(id), None, "{id:?}");
        }
    }

    #[test]
    fn ordered_by_id() {
        let mut all = Provider::ALL.to_vec();
        all.sort();
        let ids: Vec<&str> = all.iter().map(|p| p.id()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn serde_as_the_id() {
        let json = serde_json::to_string(&Provider::OpenRouter).unwrap();
        assert_eq!(json, "\"openrouter\"");
        let back: Provider = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Provider::OpenRouter);
        let err = serde_json::from_str::<Provider>("\"azure\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown provider 'azure'"),
            "{err}"
        );
        assert!(serde_json::from_str::<Provider>("3").is_err());
    }
}
