//! Protocols other than chat completions, served by the chat pipeline (`chat::serve`): each
//! turns its request into a chat request on the way in (one mapper) and the chat answer back
//! into its own shape on the way out (another), so keys, IAM, limits, routing, cache and
//! usage are the chat route's own.

pub mod messages;
pub mod responses;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use serde_json::Value;

use crate::proxy::error::ProxyError;
use crate::proxy::providers::{Native, Protocol};

/// A protocol's request body as a chat request's (`chat_of`), with the body itself kept for a
/// provider that speaks the protocol. `reasoning` bounds the tokens of what the body carries
/// and its chat request drops (the model's earlier reasoning).
pub fn with_native(
    raw: &[u8],
    protocol: Protocol,
    chat_of: fn(&Value) -> Result<Value, ProxyError>,
    reasoning: fn(&Value) -> u64,
) -> Result<(Bytes, Option<Native>), ProxyError> {
    let mut body: Value =
        serde_json::from_slice(raw).map_err(|e| ProxyError::malformed_json(&e))?;
    let mut chat = chat_of(&body)?;
    // The gateway's own member: the chat pipeline reads it, no provider gets it.
    if let Some(models) = body.as_object_mut().and_then(|o| o.remove("models")) {
        chat["models"] = models;
    }
    let chat = serde_json::to_vec(&chat).map_err(|e| ProxyError::malformed_json(&e))?;
    let native = Native {
        protocol,
        extra_prompt: reasoning(&body),
        body,
    };
    Ok((Bytes::from(chat), Some(native)))
}

/// The most of a chat answer this layer reads into memory to turn it around (bodies above
/// the gateway's request limit are not expected back; errors are small).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Whether the chat answer is an event stream (a streamed completion).
pub fn is_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// A complete chat answer's body.
pub async fn body_of(body: Body) -> Bytes {
    axum::body::to_bytes(body, MAX_ANSWER_BYTES)
        .await
        .unwrap_or_default()
}

/// Splits a chat event stream into its `data:` payloads as bytes arrive.
#[derive(Default)]
pub struct DataLines {
    pending: Vec<u8>,
}

impl DataLines {
    /// The payloads completed by `chunk` (`[DONE]` included, as sent).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                out.push(data.trim_start().to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::DataLines;

    #[test]
    fn payloads_are_found_across_chunk_boundaries() {
        let mut lines = DataLines::default();
        assert!(lines.feed(b"data: {\"a\"").is_empty());
        assert_eq!(
            lines.feed(b":1}\n\ndata: [DONE]\n\n"),
            ["{\"a\":1}", "[DONE]"]
        );
        assert!(lines.feed(b": comment\n\n").is_empty());
    }
}
