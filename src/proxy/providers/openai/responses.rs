//! OpenAI's Responses API passed through: a `/v1/responses` request to an OpenAI model goes
//! to OpenAI's own `/responses` as the client wrote it. What the gateway reads of the answer
//! is its usage, and (for streams, and to replay a cached answer as a stream) its text and
//! function calls in the chat shape the rest of the gateway meters and caches.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::super::{
    call, call_bytes, now, passed_on, unreadable, usage_chunk, usage_json, Answer, ChunkStream,
    Req, StreamTranslation, Target, TranslateError, Usage,
};
use crate::proxy::error::ProxyError;

pub const PATH: &str = "/responses";

/// A Responses answer's usage (`input_tokens` counts the cached ones, as chat's
/// `prompt_tokens` does).
pub fn usage(u: &Value) -> Usage {
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    Usage {
        prompt_tokens: count(&u["input_tokens"]),
        completion_tokens: count(&u["output_tokens"]),
        cached_tokens: count(&u["input_tokens_details"]["cached_tokens"]),
        reasoning_tokens: count(&u["output_tokens_details"]["reasoning_tokens"]),
        cache_creation_tokens: 0,
    }
}

/// The answer as the provider sent it, with its usage.
pub async fn complete(
    req: Req<'_>,
    target: &Target,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Answer, ProxyError> {
    let bytes = call_bytes(req, target.timeout, message_of).await?;
    let answer: Value = serde_json::from_slice(&bytes).map_err(unreadable)?;
    if answer["object"] != "response" {
        return Err(ProxyError::Upstream {
            status: None,
            message: "the answer is not a response".into(),
        });
    }
    Ok((bytes, usage(&answer["usage"])))
}

/// The provider's event stream, passed on as it comes.
pub async fn stream(
    req: Req<'_>,
    target: &Target,
    message_of: fn(&Value) -> Option<String>,
) -> Result<ChunkStream, ProxyError> {
    let resp = call(req, target.timeout, message_of).await?;
    Ok(passed_on(resp, Reading::default()))
}

/// A `response` object as a chat completion (to replay a cached answer as a stream).
pub fn chat_answer(r: &Value) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for item in r["output"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    text.push_str(part["text"].as_str().unwrap_or_default());
                }
            }
            Some("function_call") => calls.push(json!({
                "id": item["call_id"], "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": r["id"], "object": "chat.completion", "created": r["created_at"], "model": r["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish(r, !message["tool_calls"].is_null())}],
        "usage": usage_json(&usage(&r["usage"])),
    })
}

fn finish(r: &Value, called: bool) -> &'static str {
    match (called, r["status"].as_str()) {
        (true, _) => "tool_calls",
        (false, Some("incomplete")) => "length",
        _ => "stop",
    }
}

/// The typed events read into chat chunks: text deltas, function calls, the end and usage.
#[derive(Default)]
struct Reading {
    id: String,
    model: String,
    created: i64,
    /// The output index of each function call -> its chat tool call index.
    calls: HashMap<u64, usize>,
    usage: Usage,
    done: bool,
}

impl Reading {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }
}

impl StreamTranslation for Reading {
    fn chunks(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, TranslateError> {
        let kind = match event {
            "" => data["type"].as_str().unwrap_or_default(),
            name => name,
        };
        let delta = match kind {
            "response.created" => {
                let r = &data["response"];
                self.id = r["id"].as_str().unwrap_or_default().to_string();
                self.model = r["model"].as_str().unwrap_or_default().to_string();
                self.created = r["created_at"].as_i64().unwrap_or_else(now);
                json!({"role": "assistant", "content": ""})
            }
            "response.output_text.delta" => json!({"content": data["delta"]}),
            "response.output_item.added" if data["item"]["type"] == "function_call" => {
                let call = self.calls.len();
                self.calls
                    .insert(data["output_index"].as_u64().unwrap_or_default(), call);
                let item = &data["item"];
                json!({"tool_calls": [{"index": call, "id": item["call_id"], "type": "function",
                        "function": {"name": item["name"], "arguments": ""}}]})
            }
            "response.function_call_arguments.delta" => {
                let at = data["output_index"].as_u64().unwrap_or_default();
                let Some(call) = self.calls.get(&at) else {
                    return Ok(Vec::new());
                };
                json!({"tool_calls": [{"index": call, "function": {"arguments": data["delta"]}}]})
            }
            "response.completed" | "response.incomplete" => {
                let r = &data["response"];
                self.usage = usage(&r["usage"]);
                self.done = true;
                return Ok(vec![
                    self.chunk(json!({}), Some(finish(r, !self.calls.is_empty())))
                ]);
            }
            "response.failed" | "error" => {
                let message = data["response"]["error"]["message"]
                    .as_str()
                    .or_else(|| data["message"].as_str())
                    .unwrap_or("the provider's response failed");
                return Err(TranslateError::BadUpstream(message.to_string()));
            }
            _ => return Ok(Vec::new()),
        };
        Ok(vec![self.chunk(delta, None)])
    }

    fn complete(&self) -> bool {
        self.done
    }

    fn usage_chunk(&self) -> Value {
        usage_chunk(&self.id, &self.model, self.created, &self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_chat_chunks_with_usage() {
        let mut r = Reading::default();
        let created = json!({"response": {"id": "resp_1", "model": "gpt-4o", "created_at": 5}});
        r.chunks("response.created", &created).unwrap();
        let text = r
            .chunks("response.output_text.delta", &json!({"delta": "Hi"}))
            .unwrap();
        assert_eq!(text[0]["choices"][0]["delta"]["content"], "Hi");
        let added = json!({"output_index": 1, "item": {"type": "function_call", "call_id": "c1", "name": "w"}});
        let call = r.chunks("response.output_item.added", &added).unwrap();
        assert_eq!(call[0]["choices"][0]["delta"]["tool_calls"][0]["id"], "c1");
        let args = json!({"output_index": 1, "delta": "{}"});
        let args = r
            .chunks("response.function_call_arguments.delta", &args)
            .unwrap();
        assert_eq!(
            args[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
        assert!(!r.complete());
        let done = json!({"response": {"status": "completed", "usage": {"input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 2}}}});
        let end = r.chunks("response.completed", &done).unwrap();
        assert_eq!(end[0]["choices"][0]["finish_reason"], "tool_calls");
        assert!(r.complete());
        let u = r.usage_chunk();
        assert_eq!(u["usage"]["prompt_tokens"], 9);
        assert_eq!(u["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
        assert_eq!(
            u["usage"]["completion_tokens_details"]["reasoning_tokens"],
            2
        );
        let failed = json!({"response": {"error": {"message": "boom"}}});
        assert!(r.chunks("response.failed", &failed).is_err());
    }

    #[test]
    fn a_response_reads_as_a_chat_completion() {
        let r = json!({"id": "resp_1", "object": "response", "created_at": 5, "model": "gpt-4o",
            "status": "completed", "output": [
                {"type": "reasoning", "summary": []},
                {"type": "message", "content": [{"type": "output_text", "text": "Hello"}]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"}],
            "usage": {"input_tokens": 7, "output_tokens": 2}});
        let chat = chat_answer(&r);
        let m = &chat["choices"][0]["message"];
        assert_eq!(m["content"], "Hello");
        assert_eq!(m["tool_calls"][0]["function"]["name"], "w");
        assert_eq!(chat["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chat["usage"]["prompt_tokens"], 7);
    }
}
