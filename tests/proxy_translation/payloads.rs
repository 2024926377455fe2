//! Provider payloads in their documented formats: Anthropic Messages answers and SSE events,
//! Gemini GenerateContentResponse objects and their `alt=sse` framing.

pub mod anthropic {
    use serde_json::{json, Value};

    pub const UPSTREAM_MODEL: &str = "claude-sonnet-4-5-20250929";

    /// A Messages API answer with `content` blocks and the given stop reason and usage.
    pub fn message(id: &str, content: Value, stop_reason: &str, input: u64, output: u64) -> Value {
        json!({
            "id": id, "type": "message", "role": "assistant", "model": UPSTREAM_MODEL,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": output,
                      "service_tier": "standard"}
        })
    }

    /// Anthropic's SSE framing: `event: <type>` then `data: <json>` per event.
    pub fn sse(events: &[Value]) -> String {
        events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
            .collect()
    }

    pub fn message_start(id: &str, input: u64) -> Value {
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "content": [], "model": UPSTREAM_MODEL,
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1}}})
    }

    pub fn block_start(index: u64, block: Value) -> Value {
        json!({"type": "content_block_start", "index": index, "content_block": block})
    }

    pub fn text_delta(index: u64, text: &str) -> Value {
        json!({"type": "content_block_delta", "index": index,
               "delta": {"type": "text_delta", "text": text}})
    }

    pub fn json_delta(index: u64, partial: &str) -> Value {
        json!({"type": "content_block_delta", "index": index,
               "delta": {"type": "input_json_delta", "partial_json": partial}})
    }

    pub fn block_stop(index: u64) -> Value {
        json!({"type": "content_block_stop", "index": index})
    }

    pub fn message_end(stop_reason: &str, output: u64) -> [Value; 2] {
        [
            json!({"type": "message_delta",
                   "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": output}}),
            json!({"type": "message_stop"}),
        ]
    }
}

pub mod gemini {
    use serde_json::{json, Value};

    pub const MODEL: &str = "gemini-2.5-flash";

    /// A GenerateContentResponse with one candidate.
    pub fn answer(parts: Value, finish: Option<&str>, usage: Value) -> Value {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            candidate["finishReason"] = json!(f);
        }
        json!({"candidates": [candidate], "usageMetadata": usage,
               "modelVersion": MODEL, "responseId": "mAitaJ2bBfGAz7IPkO2OsAg"})
    }

    pub fn usage(prompt: u64, candidates: Option<u64>, thoughts: Option<u64>) -> Value {
        let total = prompt + candidates.unwrap_or(0) + thoughts.unwrap_or(0);
        let mut u = json!({"promptTokenCount": prompt, "totalTokenCount": total,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]});
        if let Some(c) = candidates {
            u["candidatesTokenCount"] = json!(c);
        }
        if let Some(t) = thoughts {
            u["thoughtsTokenCount"] = json!(t);
        }
        u
    }

    /// Gemini's `alt=sse` framing: `data: <json>` events separated by CRLF blank lines.
    pub fn sse(events: &[Value]) -> String {
        events
            .iter()
            .map(|e| format!("data: {e}\r\n\r\n"))
            .collect()
    }
}
