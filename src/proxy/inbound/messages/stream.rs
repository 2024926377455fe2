//! A chat completion's event stream -> Anthropic's (`message_start`, `ping`,
//! `content_block_start/delta/stop`, `message_delta`, `message_stop`), as the chunks arrive.

use axum::body::Bytes;
use serde_json::{json, Value};

use super::answer::{message_id, stop_reason, usage};
use crate::proxy::inbound::DataLines;

/// The open content block: text, or the tool call of a chat tool-call index.
#[derive(PartialEq)]
enum Block {
    Text,
    Tool(u64),
}

#[derive(Default)]
pub struct Events {
    lines: DataLines,
    started: bool,
    open: Option<Block>,
    /// The index the next content block gets.
    next: u64,
    stop: Option<&'static str>,
    usage: Option<Value>,
    done: bool,
}

impl Events {
    /// The Anthropic events for a piece of the chat stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        let mut out = String::new();
        for data in self.lines.feed(chunk) {
            if self.done {
                break;
            }
            if data == "[DONE]" {
                self.finish(&mut out);
                continue;
            }
            match serde_json::from_str::<Value>(&data) {
                Ok(v) if v.get("error").is_some() => self.error(&v, &mut out),
                Ok(v) => self.chunk(&v, &mut out),
                Err(_) => {}
            }
        }
        Bytes::from(out)
    }

    fn chunk(&mut self, v: &Value, out: &mut String) {
        if !self.started {
            self.started = true;
            let id = message_id(v["id"].as_str().unwrap_or_default());
            let message = json!({
                "id": id, "type": "message", "role": "assistant", "model": v["model"],
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            });
            event(
                out,
                "message_start",
                &json!({"type": "message_start", "message": message}),
            );
            event(out, "ping", &json!({"type": "ping"}));
        }
        if v["usage"].is_object() {
            self.usage = Some(usage(&v["usage"]));
        }
        let Some(choice) = v["choices"].get(0) else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.open_block(Block::Text, json!({"type": "text", "text": ""}), out);
            let d = json!({"type": "text_delta", "text": text});
            self.delta(d, out);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0);
            if self.open != Some(Block::Tool(index)) {
                let block = json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {}});
                self.open_block(Block::Tool(index), block, out);
            }
            if let Some(args) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                self.delta(
                    json!({"type": "input_json_delta", "partial_json": args}),
                    out,
                );
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop = Some(stop_reason(reason));
        }
    }

    fn open_block(&mut self, block: Block, start: Value, out: &mut String) {
        if self.open.as_ref() == Some(&block) {
            return;
        }
        self.close_block(out);
        let index = self.next;
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        self.open = Some(block);
    }

    fn delta(&self, delta: Value, out: &mut String) {
        let index = self.next;
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn close_block(&mut self, out: &mut String) {
        if self.open.take().is_some() {
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.next}),
            );
            self.next += 1;
        }
    }

    fn finish(&mut self, out: &mut String) {
        self.close_block(out);
        let usage = self.usage.take().unwrap_or_else(|| usage(&Value::Null));
        let delta = json!({"stop_reason": self.stop.unwrap_or("end_turn"), "stop_sequence": null});
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta", "delta": delta, "usage": usage}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
        self.done = true;
    }

    fn error(&mut self, v: &Value, out: &mut String) {
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or("the provider failed");
        let body = json!({"type": "error", "error": {"type": "api_error", "message": message}});
        event(out, "error", &body);
        self.done = true;
    }
}

fn event(out: &mut String, name: &str, data: &Value) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect()
    }

    #[test]
    fn text_then_a_tool_call_make_two_blocks() {
        let mut e = Events::default();
        let chunks = [
            json!({"id": "chatcmpl-9", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}),
            json!({"id": "chatcmpl-9", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
            json!({"id": "chatcmpl-9", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
            json!({"id": "chatcmpl-9", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
        ];
        let mut text = String::new();
        for c in &chunks {
            text.push_str(
                std::str::from_utf8(&e.feed(format!("data: {c}\n\n").as_bytes())).unwrap(),
            );
        }
        text.push_str(std::str::from_utf8(&e.feed(b"data: [DONE]\n\n")).unwrap());
        assert_eq!(
            names(&text),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(text.contains(r#""stop_reason":"tool_use""#), "{text}");
        assert!(text.contains(r#""output_tokens":3"#), "{text}");
        assert!(
            text.contains(r#""index":1,"type":"content_block_stop""#)
                || text.contains(r#""type":"content_block_stop","index":1"#),
            "{text}"
        );
    }
}
