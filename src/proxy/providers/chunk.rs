//! One chunk of a streamed answer: its JSON text, sent on as it is, and what the gateway reads
//! of it (usage, and the deltas that rebuild the answer for the cache and for estimates).
//! OpenAI-compatible chunks are read straight into those few fields: building a whole JSON
//! tree per chunk cost about 8,000 instructions, the largest part of a chunk's way through.

use serde::Deserialize;
use serde_json::Value;

use super::UsageFields;

pub struct Chunk {
    pub head: ChunkHead,
    /// The chunk's JSON text (the provider's own when it passes on unchanged).
    pub text: String,
}

/// What the gateway reads of a chunk. Unknown fields are skipped, not built.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct ChunkHead {
    #[serde(default)]
    pub id: Value,
    #[serde(default)]
    pub created: Value,
    #[serde(default)]
    pub model: Value,
    /// `None` when the chunk has no `choices` array.
    #[serde(default)]
    pub choices: Option<Vec<ChoiceDelta>>,
    #[serde(default)]
    pub usage: Option<UsageFields>,
    /// An error sent in the stream instead of a chunk.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct ChoiceDelta {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Value,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
pub struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
}

impl ChunkHead {
    /// Reads a chunk's text: straight into the fields when it has the usual shape, else
    /// through a JSON tree, read as leniently as the tree allows. Fails only on invalid JSON.
    pub fn read(text: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str(text) {
            Ok(head) => Ok(head),
            Err(_) => serde_json::from_str::<Value>(text).map(|v| Self::of(&v)),
        }
    }

    /// The same fields taken from a JSON tree (chunks translated from other providers, and
    /// chunks of an unusual shape): a field of an unexpected type counts as absent.
    pub fn of(chunk: &Value) -> Self {
        let choices = chunk["choices"].as_array().map(|choices| {
            choices
                .iter()
                .map(|c| ChoiceDelta {
                    index: c["index"].as_u64(),
                    delta: Delta {
                        content: c["delta"]["content"].as_str().map(str::to_string),
                        tool_calls: c["delta"]["tool_calls"].as_array().cloned(),
                    },
                    finish_reason: c["finish_reason"].clone(),
                })
                .collect()
        });
        Self {
            id: chunk["id"].clone(),
            created: chunk["created"].clone(),
            model: chunk["model"].clone(),
            choices,
            usage: chunk
                .get("usage")
                .filter(|u| !u.is_null())
                .map(UsageFields::of),
            error: chunk.get("error").cloned(),
        }
    }
}

impl From<Value> for Chunk {
    fn from(value: Value) -> Self {
        Self {
            head: ChunkHead::of(&value),
            text: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_and_tree_readings_agree() {
        let chunks = [
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "system_fingerprint": "fp", "choices": [{"index": 0, "delta": {"role": "assistant",
                   "content": "Hé \"quoted\""}, "logprobs": null, "finish_reason": null}]}),
            json!({"id": "c1", "choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0,
                   "id": "t", "type": "function", "function": {"name": "f", "arguments": "{"}}]},
                   "finish_reason": "tool_calls"}]}),
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}),
            json!({"error": {"message": "overloaded"}}),
        ];
        for chunk in chunks {
            let typed: ChunkHead = serde_json::from_str(&chunk.to_string()).expect("usual shape");
            assert_eq!(typed, ChunkHead::of(&chunk), "{chunk}");
        }
    }

    #[test]
    fn unusual_shapes_are_read_leniently_and_invalid_json_is_an_error() {
        // `index` as a string and `content` as a number: the tree reading skips them.
        let odd = r#"{"id": 7, "choices": [{"index": "0", "delta": {"content": 5}}]}"#;
        let head = ChunkHead::read(odd).expect("valid JSON");
        assert_eq!(head.id, json!(7));
        let choices = head.choices.expect("choices");
        assert_eq!(choices[0].index, None);
        assert_eq!(choices[0].delta.content, None);
        // `choices` that is not an array counts as absent.
        let head = ChunkHead::read(r#"{"choices": {"0": {}}}"#).expect("valid JSON");
        assert_eq!(head.choices, None);
        assert!(ChunkHead::read("{not json").is_err());
    }
}
