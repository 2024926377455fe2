//! The client's request as the adapters get it: its bytes (sent on unchanged to an
//! OpenAI-compatible upstream when nothing needs rewriting), the few fields read on every
//! request, and its JSON tree, built only when something needs it (translating for another
//! provider, the cache key, an estimate): building the tree cost about as much as the rest
//! of reading the request.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

pub struct Incoming {
    pub raw: Bytes,
    /// `model` when it is a string, else empty.
    pub model: String,
    /// `stream`, `None` when absent or not a boolean.
    pub stream: Option<bool>,
    /// `stream_options` when the member is present (`Some(Null)` when it is `null`).
    pub stream_options: Option<Value>,
    tree: OnceLock<Value>,
}

impl Incoming {
    /// A request whose fields were read without a tree; `raw` must be valid JSON.
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
            tree: OnceLock::new(),
        }
    }

    /// A request already parsed into a tree.
    pub fn parsed(raw: Bytes, tree: Value) -> Self {
        Self {
            raw,
            model: tree["model"].as_str().unwrap_or_default().to_string(),
            stream: tree["stream"].as_bool(),
            stream_options: tree.get("stream_options").cloned(),
            tree: OnceLock::from(tree),
        }
    }

    /// The request's JSON tree, parsed on first use.
    pub fn json(&self) -> &Value {
        // `raw` was parsed once already, so this cannot fail; `Null` keeps it total.
        self.tree
            .get_or_init(|| serde_json::from_slice(&self.raw).unwrap_or_default())
    }

    /// `stream_options.include_usage` is `true`.
    pub fn wants_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o["include_usage"].as_bool() == Some(true))
    }
}
