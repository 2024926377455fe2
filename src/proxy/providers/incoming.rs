//! The client's request as the adapters get it: its bytes (sent on unchanged to an
//! OpenAI-compatible upstream when nothing needs rewriting), the few fields read on every
//! request, and its JSON tree, built only when something needs it (translating for another
//! provider, rewriting the body, an estimate): building the tree cost about as much as the
//! rest of reading the request. The cache key is written from the bytes unless the tree is
//! built anyway (`cache_key.rs`).

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

use crate::proxy::error::ProxyError;

/// A provider's own protocol a request may come in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Anthropic's Messages API.
    Messages,
    /// OpenAI's Responses API.
    Responses,
}

impl Protocol {
    /// The endpoint's name (usage log, metrics, cache keys).
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Messages => "messages",
            Protocol::Responses => "responses",
        }
    }
}

/// Marks an answer (a response extension, never sent) that is already in the client's
/// protocol, for the route to pass on as it is.
#[derive(Debug, Clone, Copy)]
pub struct NativeAnswer(pub Protocol);

/// The client's body in its own protocol, beside the chat request made of it.
#[derive(Debug, Clone)]
pub struct Native {
    pub protocol: Protocol,
    /// The body without the gateway's own members (`models`).
    pub body: Value,
    /// Tokens the body's prompt may hold that its chat request does not (the model's earlier
    /// reasoning, kept in the history): added to the reservation's bound.
    pub extra_prompt: u64,
}

pub struct Incoming {
    pub raw: Bytes,
    /// `model` when it is a string, else empty.
    pub model: String,
    /// `stream`, `None` when absent or not a boolean.
    pub stream: Option<bool>,
    /// `stream_options` when the member is present (`Some(Null)` when it is `null`).
    pub stream_options: Option<Value>,
    /// The bytes may go upstream as they are. Not when a member is repeated: the gateway reads
    /// the last value, as a JSON tree does, but an upstream might read the first, and route or
    /// bill a model other than the one checked and priced here.
    pub pass_through: bool,
    /// The client's own body, when it came in in a provider's protocol (`/v1/messages`,
    /// `/v1/responses`): sent as it is to a provider that speaks that protocol.
    pub native: Option<Box<Native>>,
    /// The tree, or why the text has none (valid JSON whose number is out of a float's
    /// range, which the reading without a tree does not check).
    tree: OnceLock<Result<Value, String>>,
}

impl Incoming {
    /// A request whose fields were read without a tree (which refuses repeated members);
    /// `raw` must be valid JSON.
    pub fn read(
        raw: Bytes,
        model: String,
        stream: Option<bool>,
        stream_options: Option<Value>,
    ) -> Self {
        Self {
            raw,
            model,
            stream,
            stream_options,
            pass_through: true,
            native: None,
            tree: OnceLock::new(),
        }
    }

    /// A request already parsed into a tree; its bytes go upstream only as the tree's text,
    /// since a tree cannot tell whether a member was repeated.
    pub fn parsed(raw: Bytes, tree: Value) -> Self {
        Self {
            raw,
            model: tree["model"].as_str().unwrap_or_default().to_string(),
            stream: tree["stream"].as_bool(),
            stream_options: tree.get("stream_options").cloned(),
            pass_through: false,
            native: None,
            tree: OnceLock::from(Ok(tree)),
        }
    }

    /// The request's JSON tree, parsed on first use.
    pub fn json(&self) -> Result<&Value, ProxyError> {
        let tree = self
            .tree
            .get_or_init(|| serde_json::from_slice(&self.raw).map_err(|e| e.to_string()));
        tree.as_ref().map_err(|why| ProxyError::malformed_json(why))
    }

    /// The request's JSON tree when it has already been built.
    pub fn built_tree(&self) -> Option<&Value> {
        self.tree.get().and_then(|t| t.as_ref().ok())
    }

    /// `stream_options.include_usage` is `true`.
    pub fn wants_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o["include_usage"].as_bool() == Some(true))
    }
}
