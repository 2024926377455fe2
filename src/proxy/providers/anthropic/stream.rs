//! Anthropic's streaming events to OpenAI chunks (part of the `anthropic` translation).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::translate::{
    bad, block_index, error_message, finish_reason, str_at, RawUsage, NEEDS_START,
};
use crate::proxy::providers::types::{TranslateError, Usage};

/// Anthropic SSE events -> OpenAI "chat.completion.chunk" JSON objects.
pub struct StreamState {
    model: String,
    created: i64,
    /// The message id, set by message_start.
    id: Option<String>,
    raw: RawUsage,
    /// Anthropic content block index -> OpenAI tool call index.
    tool_blocks: HashMap<u64, usize>,
    done: bool,
}

impl StreamState {
    pub fn new(model: &str, created: i64) -> Self {
        Self {
            model: model.to_string(),
            created,
            id: None,
            raw: RawUsage::default(),
            tool_blocks: HashMap::new(),
            done: false,
        }
    }

    /// One SSE event: its `event:` name and its parsed `data:` JSON. Returns the chunks to send now.
    /// An `error` event returns Err(TranslateError::BadUpstream(message)).
    pub fn on_event(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, TranslateError> {
        // Every payload repeats the event name in "type"; use it when the name line is absent.
        let kind = match event {
            "" => str_at(data, "type").unwrap_or(""),
            name => name,
        };
        if self.id.is_none() && NEEDS_START.contains(&kind) {
            return Err(bad(&format!("{kind} before message_start")));
        }
        let delta = match kind {
            "message_start" => {
                let message = data.get("message").unwrap_or(&Value::Null);
                self.id = Some(str_at(message, "id").unwrap_or("").to_string());
                self.raw.update(message.get("usage"));
                json!({"role": "assistant", "content": ""})
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                match str_at(block, "type") {
                    Some("text") => match str_at(block, "text") {
                        Some(text) if !text.is_empty() => json!({"content": text}),
                        _ => return Ok(Vec::new()),
                    },
                    Some("tool_use") => {
                        let call = self.tool_blocks.len();
                        self.tool_blocks.insert(block_index(data)?, call);
                        json!({"tool_calls": [{
                            "index": call,
                            "id": str_at(block, "id").unwrap_or(""),
                            "type": "function",
                            "function": {"name": str_at(block, "name"), "arguments": ""},
                        }]})
                    }
                    _ => return Ok(Vec::new()),
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                let text = str_at(delta, "text");
                match (str_at(delta, "type"), text, str_at(delta, "partial_json")) {
                    (Some("text_delta"), Some(text), _) if !text.is_empty() => {
                        json!({"content": text})
                    }
                    (Some("input_json_delta"), _, Some(partial)) if !partial.is_empty() => {
                        // Deltas of server-side tool blocks have no OpenAI tool call.
                        let Some(call) = self.tool_blocks.get(&block_index(data)?) else {
                            return Ok(Vec::new());
                        };
                        json!({"tool_calls": [{"index": call, "function": {"arguments": partial}}]})
                    }
                    // Thinking, signature and citation deltas have no OpenAI form.
                    _ => return Ok(Vec::new()),
                }
            }
            "message_delta" => {
                self.raw.update(data.get("usage"));
                let reason = data.pointer("/delta/stop_reason").and_then(Value::as_str);
                let chunk = reason.map(|r| self.chunk(json!({}), Some(finish_reason(r))));
                return Ok(chunk.into_iter().collect());
            }
            "message_stop" => {
                self.done = true;
                return Ok(Vec::new());
            }
            "error" => {
                let msg = error_message(data).unwrap_or_else(|| "unknown stream error".into());
                return Err(TranslateError::BadUpstream(msg));
            }
            // ping, content_block_stop, and event types added later: nothing to send.
            _ => return Ok(Vec::new()),
        };
        Ok(vec![self.chunk(delta, None)])
    }

    /// Usage seen so far (input tokens from message_start, output tokens from message_delta).
    pub fn usage(&self) -> Usage {
        self.raw.usage()
    }

    /// True once message_stop was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id.as_deref().unwrap_or(""),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
    }
}
