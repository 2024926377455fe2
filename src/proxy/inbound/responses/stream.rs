//! A chat completion's event stream -> the Responses API's typed events, as chunks arrive.

use axum::body::Bytes;
use serde_json::{json, Value};

use super::answer::{call_item, message_id, message_item, response, response_id, usage};
use crate::proxy::inbound::DataLines;

/// An output item being streamed.
enum Item {
    Text {
        id: String,
        text: String,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
        chat_index: u64,
    },
}

#[derive(Default)]
pub struct Events {
    lines: DataLines,
    sequence: u64,
    id: String,
    model: Value,
    created: i64,
    /// Items finished, then the one open.
    done_items: Vec<Value>,
    open: Option<Item>,
    finish: Option<String>,
    usage: Option<Value>,
    started: bool,
    ended: bool,
}

impl Events {
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        let mut out = String::new();
        for data in self.lines.feed(chunk) {
            if self.ended {
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

    fn emit(&mut self, out: &mut String, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.push_str("event: ");
        out.push_str(kind);
        out.push_str("\ndata: ");
        out.push_str(&data.to_string());
        out.push_str("\n\n");
    }

    fn snapshot(&self, finish: Option<&str>) -> Value {
        let usage = self.usage.clone().unwrap_or(Value::Null);
        response(
            &self.id,
            &self.model,
            self.created,
            self.done_items.clone(),
            finish,
            usage,
        )
    }

    fn chunk(&mut self, v: &Value, out: &mut String) {
        if !self.started {
            self.started = true;
            self.id = response_id(v["id"].as_str().unwrap_or_default());
            self.model = v["model"].clone();
            self.created = v["created"].as_i64().unwrap_or(0);
            let r = self.snapshot(None);
            self.emit(out, "response.created", json!({"response": r}));
            let r = self.snapshot(None);
            self.emit(out, "response.in_progress", json!({"response": r}));
        }
        if v["usage"].is_object() {
            self.usage = Some(usage(&v["usage"]));
        }
        let Some(choice) = v["choices"].get(0) else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            if !matches!(self.open, Some(Item::Text { .. })) {
                self.close(out);
                let id = message_id(&self.id);
                let index = self.done_items.len();
                let mut item = message_item(&id, "", "in_progress");
                item["content"] = json!([]);
                self.emit(
                    out,
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                );
                let part = json!({"type": "output_text", "text": "", "annotations": []});
                self.emit(
                    out,
                    "response.content_part.added",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                );
                self.open = Some(Item::Text {
                    id,
                    text: String::new(),
                });
            }
            let index = self.done_items.len();
            if let Some(Item::Text { id, text: all }) = &mut self.open {
                all.push_str(text);
                let data = json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []});
                self.emit(out, "response.output_text.delta", data);
            }
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let chat_index = call["index"].as_u64().unwrap_or(0);
            let same =
                matches!(&self.open, Some(Item::Call { chat_index: i, .. }) if *i == chat_index);
            if !same {
                self.close(out);
                let call_id = call["id"].as_str().unwrap_or_default().to_string();
                let name = call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let item = call_item(&call_id, &name, "", "in_progress");
                let index = self.done_items.len();
                self.emit(
                    out,
                    "response.output_item.added",
                    json!({"output_index": index, "item": item}),
                );
                self.open = Some(Item::Call {
                    call_id,
                    name,
                    arguments: String::new(),
                    chat_index,
                });
            }
            let index = self.done_items.len();
            if let Some(args) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                if let Some(Item::Call {
                    call_id, arguments, ..
                }) = &mut self.open
                {
                    arguments.push_str(args);
                    let data = json!({"item_id": format!("fc_{call_id}"), "output_index": index, "delta": args});
                    self.emit(out, "response.function_call_arguments.delta", data);
                }
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish = Some(reason.to_string());
        }
    }

    /// Ends the open item with its `done` events.
    fn close(&mut self, out: &mut String) {
        let index = self.done_items.len();
        let item = match self.open.take() {
            None => return,
            Some(Item::Text { id, text }) => {
                let data = json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []});
                self.emit(out, "response.output_text.done", data);
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                );
                message_item(&id, &text, "completed")
            }
            Some(Item::Call {
                call_id,
                name,
                arguments,
                ..
            }) => {
                let data = json!({"item_id": format!("fc_{call_id}"), "output_index": index, "arguments": arguments});
                self.emit(out, "response.function_call_arguments.done", data);
                call_item(&call_id, &name, &arguments, "completed")
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        self.done_items.push(item);
    }

    fn finish(&mut self, out: &mut String) {
        self.close(out);
        let finish = self.finish.clone().unwrap_or_else(|| "stop".into());
        let r = self.snapshot(Some(&finish));
        let kind = match r["status"].as_str() {
            Some("incomplete") => "response.incomplete",
            _ => "response.completed",
        };
        self.emit(out, kind, json!({"response": r}));
        self.ended = true;
    }

    fn error(&mut self, v: &Value, out: &mut String) {
        let e = &v["error"];
        let data = json!({"code": e["code"], "message": e["message"], "param": e["param"]});
        self.emit(out, "error", data);
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_after_text_is_its_own_item() {
        let mut e = Events::default();
        let chunks = [
            json!({"id": "chatcmpl-3", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
            json!({"id": "chatcmpl-3", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "w", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}),
            json!({"id": "chatcmpl-3", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        ];
        let mut text = String::new();
        for c in &chunks {
            text.push_str(
                std::str::from_utf8(&e.feed(format!("data: {c}\n\n").as_bytes())).unwrap(),
            );
        }
        text.push_str(std::str::from_utf8(&e.feed(b"data: [DONE]\n\n")).unwrap());
        let kinds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .next_back();
        let last: Value = serde_json::from_str(data.unwrap()).unwrap();
        assert_eq!(last["sequence_number"], 12);
        assert_eq!(last["response"]["output"].as_array().unwrap().len(), 2);
        assert_eq!(last["response"]["usage"]["total_tokens"], 5);
    }
}
