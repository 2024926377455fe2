//! Anthropic Messages request -> chat completions request (the reverse of
//! `providers::anthropic::translate::request`).

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use crate::proxy::error::ProxyError;
use crate::proxy::pricing::text_bound;
use crate::proxy::providers::{Native, Protocol};

/// The chat request for a Messages request body, and the body itself for Anthropic models
/// (which get it as it is: `cache_control`, `thinking`, `top_k` and the rest included).
pub fn to_chat(raw: Bytes) -> Result<(Bytes, Option<Native>), ProxyError> {
    super::super::with_native(&raw, Protocol::Messages, chat_of, reasoning_bound)
}

/// A bound of the tokens of the model's earlier reasoning kept in the history, which the
/// chat request drops but a request passed through carries.
fn reasoning_bound(body: &Value) -> u64 {
    let turns = body["messages"].as_array().into_iter().flatten();
    let blocks = turns.flat_map(|t| t["content"].as_array().into_iter().flatten());
    blocks
        .filter(|b| matches!(b["type"].as_str(), Some("thinking" | "redacted_thinking")))
        .map(|b| text_bound(&b.to_string()))
        .fold(0u64, u64::saturating_add)
}

/// The chat request as a tree (also what `count_tokens` counts).
pub fn chat_of(body: &Value) -> Result<Value, ProxyError> {
    let req = body
        .as_object()
        .ok_or_else(|| invalid("body", "the request body must be a JSON object"))?;
    let model = req.get("model").and_then(Value::as_str);
    let model = model.ok_or_else(|| invalid("model", "model: a model name is required"))?;
    // What runs at the provider and is billed apart, out of the gateway's sight.
    for member in ["mcp_servers", "container"] {
        if req.get(member).is_some_and(|v| !v.is_null()) {
            return Err(invalid(
                member,
                format!("{member} is not supported by this gateway: its cost could not be metered"),
            ));
        }
    }
    let mut messages = Vec::new();
    match req.get("system") {
        None | Some(Value::Null) => {}
        Some(system) => {
            messages.push(json!({"role": "system", "content": text_of(system, "system")?}))
        }
    }
    let turns = req.get("messages").and_then(Value::as_array);
    let turns = turns.filter(|m| !m.is_empty());
    let turns =
        turns.ok_or_else(|| invalid("messages", "messages: a non-empty array is required"))?;
    for (i, turn) in turns.iter().enumerate() {
        let at = format!("messages.{i}");
        match turn.get("role").and_then(Value::as_str) {
            Some("user") => user_turn(turn.get("content"), &at, &mut messages)?,
            Some("assistant") => messages.push(assistant_turn(turn.get("content"), &at)?),
            _ => {
                return Err(invalid(
                    &at,
                    format!("{at}.role: must be \"user\" or \"assistant\""),
                ))
            }
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    let max_tokens = req
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0);
    let max_tokens = max_tokens
        .ok_or_else(|| invalid("max_tokens", "max_tokens: a positive integer is required"))?;
    out.insert("max_tokens".into(), json!(max_tokens));
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stop_sequences", "stop"),
    ] {
        if let Some(v) = req.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        // The usage the closing `message_delta` reports.
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = req
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
    {
        out.insert("user".into(), json!(user));
    }
    if let Some(tools) = req.get("tools").and_then(Value::as_array) {
        out.insert(
            "tools".into(),
            Value::Array(tools.iter().map(tool).collect::<Result<_, _>>()?),
        );
    }
    if let Some(choice) = req.get("tool_choice").filter(|v| !v.is_null()) {
        out.insert("tool_choice".into(), tool_choice(choice)?);
    }
    Ok(Value::Object(out))
}

fn invalid(param: &str, message: impl Into<String>) -> ProxyError {
    ProxyError::invalid(param, message)
}

/// A string, or text blocks joined.
fn text_of(content: &Value, at: &str) -> Result<String, ProxyError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => blocks
            .iter()
            .map(
                |b| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (Some("text"), Some(Value::String(t))) => Ok(t.as_str()),
                    _ => Err(invalid(
                        at,
                        format!("{at}: only text blocks are accepted here"),
                    )),
                },
            )
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("\n\n")),
        _ => Err(invalid(
            at,
            format!("{at}: a string or an array of text blocks is required"),
        )),
    }
}

/// A user turn: its text and images as one user message, its tool results as tool messages
/// (before it, as the chat shape wants them right after the assistant's calls).
fn user_turn(content: Option<&Value>, at: &str, out: &mut Vec<Value>) -> Result<(), ProxyError> {
    let blocks = match content {
        Some(Value::String(s)) => {
            out.push(json!({"role": "user", "content": s}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(invalid(
                at,
                format!("{at}.content: a string or an array of blocks is required"),
            ))
        }
    };
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                parts.push(json!({"type": "text", "text": str_of(block, "text", &at)?}))
            }
            Some("image") => parts.push(image(block, &at)?),
            Some("tool_result") => {
                let id = str_of(block, "tool_use_id", &at)?;
                let text = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(c) => text_of(c, &at)?,
                };
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
            }
            other => return Err(unsupported(other, &at)),
        }
    }
    if !parts.is_empty() {
        out.push(json!({"role": "user", "content": parts}));
    }
    Ok(())
}

fn assistant_turn(content: Option<&Value>, at: &str) -> Result<Value, ProxyError> {
    let blocks = match content {
        Some(Value::String(s)) => return Ok(json!({"role": "assistant", "content": s})),
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(invalid(
                at,
                format!("{at}.content: a string or an array of blocks is required"),
            ))
        }
    };
    let mut text = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push(str_of(block, "text", &at)?),
            Some("tool_use") => calls.push(json!({
                "id": str_of(block, "id", &at)?,
                "type": "function",
                "function": {
                    "name": str_of(block, "name", &at)?,
                    "arguments": block.get("input").unwrap_or(&json!({})).to_string(),
                }
            })),
            // The model's reasoning is not sent back to other providers.
            Some("thinking" | "redacted_thinking") => {}
            other => return Err(unsupported(other, &at)),
        }
    }
    let mut message = json!({"role": "assistant", "content": text.join("")});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}

fn image(block: &Value, at: &str) -> Result<Value, ProxyError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            str_of(source, "media_type", at)?,
            str_of(source, "data", at)?
        ),
        Some("url") => str_of(source, "url", at)?.to_string(),
        _ => {
            return Err(invalid(
                at,
                format!("{at}.source: \"base64\" or \"url\" is required"),
            ))
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

fn tool(t: &Value) -> Result<Value, ProxyError> {
    // Server tools (web search, code execution...) run and are billed at the provider.
    if let Some(kind) = t
        .get("type")
        .and_then(Value::as_str)
        .filter(|k| *k != "custom")
    {
        return Err(invalid(
            "tools",
            format!("tools: server tools ({kind}) are not supported by this gateway: their cost could not be metered"),
        ));
    }
    let name = str_of(t, "name", "tools")?;
    let mut function = json!({"name": name});
    if let Some(d) = t.get("description").and_then(Value::as_str) {
        function["description"] = json!(d);
    }
    function["parameters"] = t
        .get("input_schema")
        .cloned()
        .unwrap_or(json!({"type": "object"}));
    Ok(json!({"type": "function", "function": function}))
}

fn tool_choice(choice: &Value) -> Result<Value, ProxyError> {
    Ok(match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            json!({"type": "function", "function": {"name": str_of(choice, "name", "tool_choice")?}})
        }
        _ => {
            return Err(invalid(
                "tool_choice",
                "tool_choice.type: auto, any, tool or none",
            ))
        }
    })
}

fn str_of<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, ProxyError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, format!("{at}.{key}: a string is required")))
}

fn unsupported(kind: Option<&str>, at: &str) -> ProxyError {
    invalid(
        at,
        format!("{at}: content blocks of type {kind:?} are not supported by this gateway"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_kept_and_its_reasoning_bounded() {
        let thinking = "a long line of thought ".repeat(20);
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "top_k": 3,
            "models": ["gpt-4o"],
            "messages": [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": thinking, "signature": "s"},
                                                  {"type": "text", "text": "Hello"}]},
                {"role": "user", "content": "More"}]});
        let (chat, native) = to_chat(Bytes::from(body.to_string())).unwrap();
        let chat: Value = serde_json::from_slice(&chat).unwrap();
        assert_eq!(chat["models"], json!(["gpt-4o"]));
        let native = native.unwrap();
        assert_eq!(native.protocol, Protocol::Messages);
        assert!(native.body.get("models").is_none());
        assert_eq!(native.body["top_k"], 3);
        // Dropped from the chat request, counted in the bound.
        assert!(!chat.to_string().contains("line of thought"));
        assert!(
            native.extra_prompt >= text_bound(&thinking),
            "{}",
            native.extra_prompt
        );
        let server = json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}],
                            "tools": [{"type": "code_execution_20250522", "name": "code_execution"}]});
        assert!(chat_of(&server).is_err());
    }
}
