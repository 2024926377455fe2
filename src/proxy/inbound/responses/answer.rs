//! Chat completion -> a Responses API `response` object.

use serde_json::{json, Value};

/// `resp_…` from a chat completion's id.
pub fn response_id(chat_id: &str) -> String {
    format!(
        "resp_{}",
        chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id)
    )
}

/// The id of the response's message item.
pub fn message_id(response_id: &str) -> String {
    format!("msg_{}", response_id.trim_start_matches("resp_"))
}

/// Responses usage from chat usage.
pub fn usage(chat: &Value) -> Value {
    let input = chat["prompt_tokens"].as_u64().unwrap_or(0);
    let output = chat["completion_tokens"].as_u64().unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": chat["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap_or(0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": chat["completion_tokens_details"]["reasoning_tokens"].as_u64().unwrap_or(0)},
        "total_tokens": input.saturating_add(output),
    })
}

pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

pub fn call_item(call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
           "name": name, "arguments": arguments, "status": status})
}

/// The response object around `output`; `finish` is chat's finish reason, if it ended.
pub fn response(
    id: &str,
    model: &Value,
    created: i64,
    output: Vec<Value>,
    finish: Option<&str>,
    usage: Value,
) -> Value {
    let (status, incomplete) = match finish {
        None => ("in_progress", Value::Null),
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        Some(_) => ("completed", Value::Null),
    };
    json!({
        "id": id, "object": "response", "created_at": created, "status": status,
        "model": model, "output": output, "usage": usage, "error": null,
        "incomplete_details": incomplete, "instructions": null, "metadata": {},
        "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
        "temperature": null, "top_p": null, "max_output_tokens": null,
        "previous_response_id": null, "reasoning": null, "store": false,
        "text": {"format": {"type": "text"}}, "truncation": "disabled", "user": null,
    })
}

/// A complete chat answer as a response.
pub fn complete(chat: &Value) -> Value {
    let id = response_id(chat["id"].as_str().unwrap_or_default());
    let choice = &chat["choices"][0];
    let m = &choice["message"];
    let mut output = Vec::new();
    if let Some(text) = m["content"].as_str().filter(|t| !t.is_empty()) {
        output.push(message_item(&message_id(&id), text, "completed"));
    }
    for call in m["tool_calls"].as_array().into_iter().flatten() {
        let f = &call["function"];
        output.push(call_item(
            call["id"].as_str().unwrap_or_default(),
            f["name"].as_str().unwrap_or_default(),
            f["arguments"].as_str().unwrap_or("{}"),
            "completed",
        ));
    }
    let created = chat["created"].as_i64().unwrap_or(0);
    let finish = choice["finish_reason"].as_str().unwrap_or("stop");
    response(
        &id,
        &chat["model"],
        created,
        output,
        Some(finish),
        usage(&chat["usage"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_calls_become_output_items() {
        let chat = json!({"id": "chatcmpl-7", "created": 5, "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "ok",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4}});
        let r = complete(&chat);
        assert_eq!(r["id"], "resp_7");
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output"][0]["content"][0]["text"], "ok");
        assert_eq!(r["output"][1]["call_id"], "call_1");
        assert_eq!(r["usage"]["total_tokens"], 14);
        let cut = json!({"id": "x", "choices": [{"message": {"content": "a"}, "finish_reason": "length"}]});
        assert_eq!(
            complete(&cut)["incomplete_details"]["reason"],
            "max_output_tokens"
        );
    }
}
