//! Chat completion -> Anthropic message, and OpenAI-shaped errors -> Anthropic's.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// Chat's `finish_reason` as Anthropic's `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's usage for chat usage: input tokens without the cache reads and writes, which
/// it counts apart.
pub fn usage(chat: &Value) -> Value {
    let prompt = chat["prompt_tokens"].as_u64().unwrap_or(0);
    let details = &chat["prompt_tokens_details"];
    let cached = details["cached_tokens"].as_u64().unwrap_or(0);
    let written = details["cache_creation_tokens"].as_u64().unwrap_or(0);
    json!({
        "input_tokens": prompt.saturating_sub(cached).saturating_sub(written),
        "output_tokens": chat["completion_tokens"].as_u64().unwrap_or(0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    })
}

/// A complete chat answer as a Messages answer.
pub fn message(chat: &Value) -> Value {
    let choice = &chat["choices"][0];
    let m = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = m["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in m["tool_calls"].as_array().into_iter().flatten() {
        content.push(tool_use(call));
    }
    let id = chat["id"].as_str().unwrap_or_default();
    json!({
        "id": message_id(id),
        "type": "message",
        "role": "assistant",
        "model": chat["model"],
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str().unwrap_or("stop")),
        "stop_sequence": null,
        "usage": usage(&chat["usage"]),
    })
}

/// A tool call as a `tool_use` block (its arguments parsed; an unparsable string kept whole).
fn tool_use(call: &Value) -> Value {
    let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
    let input: Value =
        serde_json::from_str(arguments).unwrap_or_else(|_| json!({"arguments": arguments}));
    json!({
        "type": "tool_use",
        "id": call["id"],
        "name": call["function"]["name"],
        "input": input,
    })
}

/// Anthropic's message ids start `msg_`.
pub fn message_id(chat_id: &str) -> String {
    let id = chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id);
    format!("msg_{id}")
}

/// Anthropic's error type for a status.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An OpenAI-shaped error body as Anthropic's.
pub fn error(status: StatusCode, openai: &Value) -> Value {
    let message = openai["error"]["message"]
        .as_str()
        .unwrap_or("the request failed");
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_with_a_tool_call_becomes_blocks() {
        let chat = json!({
            "id": "chatcmpl-1", "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "Let me look.",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8,
                "prompt_tokens_details": {"cached_tokens": 5}}
        });
        let m = message(&chat);
        assert_eq!(m["id"], "msg_1");
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(
            m["content"][0],
            json!({"type": "text", "text": "Let me look."})
        );
        assert_eq!(m["content"][1]["input"], json!({"city": "Paris"}));
        assert_eq!(m["usage"]["input_tokens"], 15);
        assert_eq!(m["usage"]["cache_read_input_tokens"], 5);
        assert_eq!(m["usage"]["output_tokens"], 8);
    }

    #[test]
    fn errors_take_anthropics_types() {
        let e = error(
            StatusCode::UNAUTHORIZED,
            &json!({"error": {"message": "invalid API key"}}),
        );
        assert_eq!(
            e,
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid API key"}})
        );
        assert_eq!(
            error_type(StatusCode::TOO_MANY_REQUESTS),
            "rate_limit_error"
        );
        assert_eq!(error_type(StatusCode::BAD_GATEWAY), "api_error");
        assert_eq!(
            error_type(StatusCode::UNPROCESSABLE_ENTITY),
            "invalid_request_error"
        );
    }
}
