//! An OpenAI-shaped `usage` object read straight into its four counts, without building a
//! JSON tree (a tree of the usage object cost about 2,600 instructions per answer). The
//! reading is as lenient as the tree's: any JSON is accepted, and a count that is missing
//! or not a non-negative integer counts as absent.

use serde::de::{Deserializer, MapAccess};
use serde::Deserialize;
use serde_json::Value;

use super::Usage;
use crate::proxy::lenient::{self, Fill, Skip};

/// The counts of a `usage` object, each `None` when absent or not a count.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct UsageFields {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    /// The gateway's own `prompt_tokens_details.cache_creation_tokens` (Anthropic's cache
    /// writes, carried through the chat shape).
    pub cache_creation_tokens: Option<u64>,
}

impl UsageFields {
    /// The usage, if the provider reported the prompt's tokens (the other counts default to 0).
    pub fn usage(&self) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: self.prompt_tokens?,
            completion_tokens: self.completion_tokens.unwrap_or(0),
            cached_tokens: self.cached_tokens.unwrap_or(0),
            reasoning_tokens: self.reasoning_tokens.unwrap_or(0),
            cache_creation_tokens: self.cache_creation_tokens.unwrap_or(0),
        })
    }

    /// The same counts read from a JSON tree.
    pub fn of(v: &Value) -> Self {
        Self {
            prompt_tokens: v["prompt_tokens"].as_u64(),
            completion_tokens: v["completion_tokens"].as_u64(),
            cached_tokens: v["prompt_tokens_details"]["cached_tokens"].as_u64(),
            reasoning_tokens: v["completion_tokens_details"]["reasoning_tokens"].as_u64(),
            cache_creation_tokens: v["prompt_tokens_details"]["cache_creation_tokens"].as_u64(),
        }
    }
}

impl<'de> Deserialize<'de> for UsageFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::read(d)
    }
}

/// The `*_tokens_details` objects: the one count the gateway reads of each.
#[derive(Default)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    cache_creation_tokens: Option<u64>,
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::read(d)
    }
}

/// A count: a non-negative integer, else `None`.
#[derive(Default)]
struct Count(Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::read(d)
    }
}

lenient::member_names! {
    /// The member names read, at either level.
    pub enum Key {
        PromptTokens = "prompt_tokens",
        CompletionTokens = "completion_tokens",
        PromptTokensDetails = "prompt_tokens_details",
        CompletionTokensDetails = "completion_tokens_details",
        CachedTokens = "cached_tokens",
        ReasoningTokens = "reasoning_tokens",
        CacheCreationTokens = "cache_creation_tokens",
    }
}

impl Fill for Count {
    type Key = Skip;

    fn integer(&mut self, v: u64) {
        self.0 = Some(v);
    }
}

impl Fill for Details {
    type Key = Key;

    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::CachedTokens => self.cached_tokens = map.next_value::<Count>()?.0,
            Key::ReasoningTokens => self.reasoning_tokens = map.next_value::<Count>()?.0,
            Key::CacheCreationTokens => self.cache_creation_tokens = map.next_value::<Count>()?.0,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl Fill for UsageFields {
    type Key = Key;

    fn member<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::PromptTokens => self.prompt_tokens = map.next_value::<Count>()?.0,
            Key::CompletionTokens => self.completion_tokens = map.next_value::<Count>()?.0,
            Key::PromptTokensDetails => {
                let details = map.next_value::<Details>()?;
                self.cached_tokens = details.cached_tokens;
                self.cache_creation_tokens = details.cache_creation_tokens;
            }
            Key::CompletionTokensDetails => {
                self.reasoning_tokens = map.next_value::<Details>()?.reasoning_tokens
            }
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_and_tree_readings_agree() {
        let cases = [
            json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}),
            json!({"prompt_tokens": 12, "completion_tokens": 3,
                   "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 2, "accepted_prediction_tokens": [1]}}),
            // Counts of the wrong type or sign count as absent.
            json!({"prompt_tokens": 12.5, "completion_tokens": -1}),
            json!({"prompt_tokens": "12", "completion_tokens": null}),
            json!({"prompt_tokens": 7, "prompt_tokens_details": null, "completion_tokens_details": 3}),
            json!({"prompt_tokens": 7, "prompt_tokens_details": {"cached_tokens": {"x": 1}}}),
            // Details under the other name are not mixed up.
            json!({"prompt_tokens": 7, "prompt_tokens_details": {"reasoning_tokens": 9},
                   "completion_tokens_details": {"cached_tokens": 9}}),
            json!({"prompt_tokens": 18446744073709551615u64}),
            json!({}),
            json!([1, 2]),
            json!("usage"),
            json!(3),
            json!(null),
        ];
        for v in cases {
            let typed: UsageFields = serde_json::from_value(v.clone()).unwrap();
            let from_text: UsageFields = serde_json::from_str(&v.to_string()).unwrap();
            assert_eq!(typed, UsageFields::of(&v), "{v}");
            assert_eq!(from_text, UsageFields::of(&v), "{v}");
        }
        let read: UsageFields = serde_json::from_str(
            r#"{"prompt_tokens": 1, "prompt_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 5}}"#,
        )
        .unwrap();
        assert_eq!(
            read.usage(),
            Some(Usage {
                prompt_tokens: 2,
                completion_tokens: 0,
                cached_tokens: 0,
                reasoning_tokens: 5,
                cache_creation_tokens: 0,
            })
        );
        assert_eq!(
            UsageFields::of(&json!({"completion_tokens": 3})).usage(),
            None
        );
    }

    #[test]
    fn invalid_json_is_still_an_error() {
        assert!(serde_json::from_str::<UsageFields>(r#"{"prompt_tokens": 1"#).is_err());
        assert!(serde_json::from_str::<UsageFields>(r#"{"prompt_tokens": [1,}"#).is_err());
    }
}
