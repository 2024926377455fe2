//! A chat request read and validated. The usual request is read straight from its text into
//! the few fields every request needs (model, stream, limits, the prompt's bound); its JSON
//! tree is built only when something needs it. A request of any other shape (a field of the
//! wrong type, a repeated field, an invalid value) is parsed into a tree and validated there,
//! which gives the client its precise error.

use axum::body::Bytes;
use axum::http::HeaderMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::Value;

use super::error::ProxyError;
use super::lenient::{member_names, Skip};
use super::pricing::{self, text_bound, PROMPT_BASE_TOKENS};
use super::prompt_fields::Messages;
use super::providers::Incoming;
use super::request::{json_content, json_object};

pub struct ChatRequest {
    pub body: Incoming,
    /// An upper bound of the prompt's tokens, for the reservation.
    pub prompt_bound: u64,
    /// The larger of `max_completion_tokens` and `max_tokens` (a provider may honour either).
    pub max_output: Option<u64>,
    /// The member `max_output` was read from, for the error naming it.
    pub max_output_param: &'static str,
    pub n: Option<u64>,
}

/// Choices a request may ask for (OpenAI's bound).
pub const MAX_N: u64 = 128;
/// Output tokens a request may ask for on any model; the catalog's `max_output_tokens` is the
/// tighter bound where known (checked once the model is resolved).
pub const MAX_OUTPUT_TOKENS: u64 = 1_000_000;

/// The larger output limit of the two members, and its member's name.
fn output_limit(completion: Option<u64>, tokens: Option<u64>) -> (Option<u64>, &'static str) {
    match (completion, tokens) {
        (Some(c), Some(t)) if t > c => (Some(t), "max_tokens"),
        (Some(c), _) => (Some(c), "max_completion_tokens"),
        (None, t) => (t, "max_tokens"),
    }
}

impl ChatRequest {
    pub fn read(headers: &HeaderMap, raw: &Bytes) -> Result<Self, ProxyError> {
        json_content(headers)?;
        if let Some(request) = Self::typed(raw) {
            return Ok(request);
        }
        let tree = json_object(raw)?;
        validate(&tree)?;
        Ok(Self::of_tree(raw.clone(), tree))
    }

    pub fn streaming(&self) -> bool {
        self.body.stream == Some(true)
    }

    /// The usual request, read without a tree; `None` when it needs the tree's reading.
    fn typed(raw: &Bytes) -> Option<Self> {
        let head: Head = serde_json::from_slice(raw).ok()?;
        let model = head.model.filter(|m| !m.trim().is_empty())?;
        let messages = head.messages.filter(|m| m.count > 0)?;
        // Out of bounds: the tree's reading names the member.
        let within = |v: Option<u64>, max: u64| v.is_none_or(|v| (1..=max).contains(&v));
        if !(within(head.max_tokens, MAX_OUTPUT_TOKENS)
            && within(head.max_completion_tokens, MAX_OUTPUT_TOKENS)
            && within(head.n, MAX_N))
        {
            return None;
        }
        let tools = head.tools.map_or(0, |t| text_bound(&t.to_string()));
        let (max_output, max_output_param) =
            output_limit(head.max_completion_tokens, head.max_tokens);
        Some(Self {
            prompt_bound: PROMPT_BASE_TOKENS + messages.bound + tools,
            max_output,
            max_output_param,
            n: head.n,
            body: Incoming::read(raw.clone(), model, head.stream, head.stream_options),
        })
    }

    /// The same fields from a validated tree.
    fn of_tree(raw: Bytes, tree: Value) -> Self {
        let (max_output, max_output_param) = output_limit(
            tree["max_completion_tokens"].as_u64(),
            tree["max_tokens"].as_u64(),
        );
        Self {
            prompt_bound: pricing::prompt_bound(&tree),
            max_output,
            max_output_param,
            n: tree["n"].as_u64(),
            body: Incoming::parsed(raw, tree),
        }
    }
}

/// The members every chat request is checked for. Unknown members are checked as JSON but
/// not built; a member of another type, or a repeated member, fails the reading (and the tree
/// then names the error, or keeps the last value).
#[derive(Default)]
struct Head {
    model: Option<String>,
    messages: Option<Messages>,
    stream: Option<bool>,
    stream_options: Option<Value>,
    tools: Option<Value>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    n: Option<u64>,
}

member_names! {
    /// The members read; a member's bit in `seen` is its position here.
    #[derive(Clone, Copy)]
    enum Key {
        Model = "model",
        Messages = "messages",
        Stream = "stream",
        StreamOptions = "stream_options",
        Tools = "tools",
        Temperature = "temperature",
        TopP = "top_p",
        MaxTokens = "max_tokens",
        MaxCompletionTokens = "max_completion_tokens",
        N = "n",
    }
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Head;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a chat request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
                let mut head = Head::default();
                let mut seen = 0u16;
                while let Some(key) = map.next_key::<Key>()? {
                    if !matches!(key, Key::Other) {
                        let bit = 1 << key as u16;
                        if seen & bit != 0 {
                            return Err(A::Error::custom("a repeated member"));
                        }
                        seen |= bit;
                    }
                    match key {
                        Key::Model => head.model = map.next_value()?,
                        Key::Messages => head.messages = map.next_value()?,
                        Key::Stream => head.stream = map.next_value()?,
                        // `Some(Null)` when present as `null`: the member is there.
                        Key::StreamOptions => head.stream_options = Some(map.next_value()?),
                        Key::Tools => head.tools = Some(map.next_value()?),
                        // Read to check their type.
                        Key::Temperature | Key::TopP => drop(map.next_value::<Option<f64>>()?),
                        Key::MaxTokens => head.max_tokens = map.next_value()?,
                        Key::MaxCompletionTokens => {
                            head.max_completion_tokens = map.next_value()?
                        }
                        Key::N => head.n = map.next_value()?,
                        Key::Other => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        d.deserialize_map(Members)
    }
}

/// The tree's checks, which give each invalid request its error.
fn validate(body: &Value) -> Result<(), ProxyError> {
    if body["model"].as_str().is_none_or(|m| m.trim().is_empty()) {
        return Err(ProxyError::invalid("model", "model is required"));
    }
    if body["messages"].as_array().is_none_or(|m| m.is_empty()) {
        return Err(ProxyError::invalid(
            "messages",
            "messages must be a non-empty array",
        ));
    }
    if !matches!(body["stream"], Value::Null | Value::Bool(_)) {
        return Err(ProxyError::invalid("stream", "stream must be a boolean"));
    }
    for field in ["temperature", "top_p"] {
        if !(body[field].is_null() || body[field].is_number()) {
            return Err(ProxyError::invalid(
                field,
                format!("{field} must be a number"),
            ));
        }
    }
    for (field, max) in [
        ("max_tokens", MAX_OUTPUT_TOKENS),
        ("max_completion_tokens", MAX_OUTPUT_TOKENS),
        ("n", MAX_N),
    ] {
        if !(body[field].is_null() || body[field].as_u64().is_some_and(|v| v > 0)) {
            return Err(ProxyError::invalid(
                field,
                format!("{field} must be a positive integer"),
            ));
        }
        if body[field].as_u64().is_some_and(|v| v > max) {
            return Err(above_maximum(field, max));
        }
    }
    Ok(())
}

/// 400 for a member above its bound, stating the bound.
pub fn above_maximum(field: &str, max: u64) -> ProxyError {
    ProxyError::invalid(field, format!("{field} must be at most {max}"))
}

#[cfg(test)]
#[path = "chat_request_tests.rs"]
mod tests;
