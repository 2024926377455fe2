//! A chat request read and validated. The usual request is read straight from its text into
//! the few fields every request needs (model, stream, limits, the prompt's bound); its JSON
//! tree is built only when something needs it. A request of any other shape (a field of the
//! wrong type, a repeated field, an invalid value) is parsed into a tree and validated there,
//! which gives the client its precise error.

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde::de::{Deserialize, Deserializer};
use serde_json::Value;

use super::error::ProxyError;
use super::pricing::{self, text_bound, PROMPT_BASE_TOKENS};
use super::prompt_fields::Messages;
use super::providers::Incoming;
use super::{json_body, json_content};

pub struct ChatRequest {
    pub body: Incoming,
    /// An upper bound of the prompt's tokens, for the reservation.
    pub prompt_bound: u64,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_output: Option<u64>,
    pub n: Option<u64>,
}

impl ChatRequest {
    pub fn read(headers: &HeaderMap, raw: &Bytes) -> Result<Self, ProxyError> {
        json_content(headers)?;
        if let Some(request) = Self::typed(raw) {
            return Ok(request);
        }
        let tree = json_body(headers, raw)?;
        validate(&tree)?;
        Ok(Self::of_tree(raw.clone(), tree))
    }

    pub fn streaming(&self) -> bool {
        self.body.stream == Some(true)
    }

    /// The usual request, read without a tree; `None` when it needs the tree's reading.
    fn typed(raw: &Bytes) -> Option<Self> {
        // A struct would also be read from an array, which the tree rejects.
        if raw.trim_ascii_start().first() != Some(&b'{') {
            return None;
        }
        let head: Head = serde_json::from_slice(raw).ok()?;
        let model = head.model.filter(|m| !m.trim().is_empty())?;
        let messages = head.messages.filter(|m| m.count > 0)?;
        let positive = |v: Option<u64>| v.is_none_or(|v| v > 0);
        if !(positive(head.max_tokens) && positive(head.max_completion_tokens) && positive(head.n))
        {
            return None;
        }
        let tools = head.tools.0.map_or(0, |t| text_bound(&t.to_string()));
        Some(Self {
            prompt_bound: PROMPT_BASE_TOKENS + messages.bound + tools,
            max_output: head.max_completion_tokens.or(head.max_tokens),
            n: head.n,
            body: Incoming::read(raw.clone(), model, head.stream, head.stream_options.0),
        })
    }

    /// The same fields from a validated tree.
    fn of_tree(raw: Bytes, tree: Value) -> Self {
        Self {
            prompt_bound: pricing::prompt_bound(&tree),
            max_output: tree["max_completion_tokens"]
                .as_u64()
                .or_else(|| tree["max_tokens"].as_u64()),
            n: tree["n"].as_u64(),
            body: Incoming::parsed(raw, tree),
        }
    }
}

/// The members every chat request is checked for. Unknown members are skipped, not built;
/// a member of another type fails the reading (and the tree then names the error).
#[derive(serde::Deserialize)]
struct Head {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Messages>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Present,
    #[serde(default)]
    tools: Present,
    #[serde(default)]
    #[allow(dead_code)] // read to check its type
    temperature: Option<f64>,
    #[serde(default)]
    #[allow(dead_code)] // read to check its type
    top_p: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    n: Option<u64>,
}

/// A member's value when the member is present, `null` included (an `Option` would read
/// `null` as absent).
#[derive(Default)]
struct Present(Option<Value>);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Self(Some(v)))
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
    for field in ["max_tokens", "max_completion_tokens", "n"] {
        if !(body[field].is_null() || body[field].as_u64().is_some_and(|v| v > 0)) {
            return Err(ProxyError::invalid(
                field,
                format!("{field} must be a positive integer"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "chat_request_tests.rs"]
mod tests;
