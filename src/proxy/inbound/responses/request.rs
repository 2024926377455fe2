//! OpenAI Responses request -> chat completions request.

use axum::body::Bytes;
use serde_json::{json, Map, Value};

use crate::proxy::error::ProxyError;
use crate::proxy::pricing::text_bound;
use crate::proxy::providers::{Native, Protocol};

/// The chat request for a Responses request body, and the body itself for OpenAI (which gets
/// it as it is).
pub fn to_chat(raw: Bytes) -> Result<(Bytes, Option<Native>), ProxyError> {
    super::super::with_native(&raw, Protocol::Responses, chat_of, reasoning_bound)
}

/// A bound of the tokens of earlier reasoning items in the input, which the chat request
/// drops but a request passed through carries.
fn reasoning_bound(body: &Value) -> u64 {
    let items = body["input"].as_array().into_iter().flatten();
    items
        .filter(|i| i["type"] == "reasoning")
        .map(|i| text_bound(&i.to_string()))
        .fold(0u64, u64::saturating_add)
}

fn chat_of(body: &Value) -> Result<Value, ProxyError> {
    let req = body
        .as_object()
        .ok_or_else(|| invalid("body", "the request body must be a JSON object"))?;
    if req
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(invalid(
            "previous_response_id",
            "previous_response_id is not supported: the gateway stores no responses; send the whole conversation as input items",
        ));
    }
    // A prompt kept at the provider, and work left running there: neither can be bounded
    // or metered by the gateway.
    if req.get("prompt").is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "prompt",
            "prompt templates are not supported: send the instructions and input themselves",
        ));
    }
    if req.get("background").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "background",
            "background responses are not supported: the gateway meters each answer as it is served",
        ));
    }
    if req.get("conversation").is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            "conversation",
            "conversations are not supported: send the whole conversation as input items",
        ));
    }
    let model = req.get("model").and_then(Value::as_str);
    let model = model.ok_or_else(|| invalid("model", "model: a model name is required"))?;
    let mut messages = Vec::new();
    if let Some(instructions) = req.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    match req.get("input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input.{i}"), &mut messages)?;
            }
        }
        _ => {
            return Err(invalid(
                "input",
                "input: a string or an array of items is required",
            ))
        }
    }
    if messages.iter().all(|m| m["role"] == "system") {
        return Err(invalid("input", "input: at least one message is required"));
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(messages));
    for (from, to) in [
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("user", "user"),
        ("parallel_tool_calls", "parallel_tool_calls"),
    ] {
        if let Some(v) = req.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = req
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        let tools = tools.iter().enumerate().map(|(i, t)| tool(t, i));
        out.insert(
            "tools".into(),
            Value::Array(tools.collect::<Result<_, _>>()?),
        );
    }
    if let Some(choice) = req.get("tool_choice").filter(|v| !v.is_null()) {
        out.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if let Some(format) = req
        .get("text")
        .and_then(|t| t.get("format"))
        .filter(|f| !f.is_null())
    {
        if let Some(rf) = response_format(format)? {
            out.insert("response_format".into(), rf);
        }
    }
    Ok(Value::Object(out))
}

fn invalid(param: &str, message: impl Into<String>) -> ProxyError {
    ProxyError::invalid(param, message)
}

/// One input item: a message, a function call the model made, or its output.
fn input_item(item: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), ProxyError> {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        None | Some("message") => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some(r @ ("user" | "assistant" | "system")) => r,
                Some("developer") => "system",
                _ => {
                    return Err(invalid(
                        at,
                        format!("{at}.role: user, assistant, system or developer"),
                    ))
                }
            };
            out.push(json!({"role": role, "content": content(item.get("content"), role, at)?}));
        }
        Some("function_call") => {
            let call = json!({
                "id": str_of(item, "call_id", at)?,
                "type": "function",
                "function": {"name": str_of(item, "name", at)?, "arguments": str_of(item, "arguments", at)?},
            });
            // Calls made together are one assistant turn in the chat shape.
            match out.last_mut() {
                Some(last) if last["role"] == "assistant" && last["tool_calls"].is_array() => {
                    if let Some(calls) = last["tool_calls"].as_array_mut() {
                        calls.push(call);
                    }
                }
                _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
            }
        }
        Some("function_call_output") => {
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => return Err(invalid(at, format!("{at}.output: is required"))),
            };
            out.push(json!({"role": "tool", "tool_call_id": str_of(item, "call_id", at)?, "content": output}));
        }
        // The model's own reasoning from an earlier turn: nothing a chat request carries.
        Some("reasoning") => {}
        Some(other) => {
            return Err(invalid(
                at,
                format!("{at}.type: items of type {other:?} are not supported by this gateway"),
            ))
        }
    }
    Ok(())
}

/// A message's content: a string, or input/output text and image parts.
fn content(content: Option<&Value>, role: &str, at: &str) -> Result<Value, ProxyError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(json!(s)),
        Some(Value::Array(parts)) => parts,
        _ => {
            return Err(invalid(
                at,
                format!("{at}.content: a string or an array of parts is required"),
            ))
        }
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let at = format!("{at}.content.{j}");
        match part.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text" | "text") => {
                out.push(json!({"type": "text", "text": str_of(part, "text", &at)?}))
            }
            Some("input_image") => {
                let url = str_of(part, "image_url", &at)?;
                let mut image = json!({"url": url});
                if let Some(detail) = part.get("detail").and_then(Value::as_str) {
                    image["detail"] = json!(detail);
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            other => {
                return Err(invalid(
                    &at,
                    format!("{at}.type: parts of type {other:?} are not supported by this gateway"),
                ))
            }
        }
    }
    // Chat takes an assistant's content as text only.
    if role != "user" {
        let text: Vec<&str> = out.iter().filter_map(|p| p["text"].as_str()).collect();
        return Ok(json!(text.join("")));
    }
    Ok(Value::Array(out))
}

fn tool(t: &Value, i: usize) -> Result<Value, ProxyError> {
    let at = format!("tools.{i}");
    if t.get("type").and_then(Value::as_str) != Some("function") {
        return Err(invalid(
            &at,
            format!("{at}.type: only function tools are supported by this gateway"),
        ));
    }
    let mut function = json!({"name": str_of(t, "name", &at)?});
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
            function[key] = v.clone();
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

fn tool_choice(choice: &Value) -> Result<Value, ProxyError> {
    match choice {
        Value::String(s) if matches!(s.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::Object(_) if choice["type"] == "function" => Ok(
            json!({"type": "function", "function": {"name": str_of(choice, "name", "tool_choice")?}}),
        ),
        _ => Err(invalid(
            "tool_choice",
            "tool_choice: auto, none, required or a function",
        )),
    }
}

fn response_format(format: &Value) -> Result<Option<Value>, ProxyError> {
    Ok(match format.get("type").and_then(Value::as_str) {
        Some("text") => None,
        Some("json_object") => Some(json!({"type": "json_object"})),
        Some("json_schema") => {
            let mut schema = json!({"name": str_of(format, "name", "text.format")?});
            for key in ["schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema[key] = v.clone();
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        _ => {
            return Err(invalid(
                "text.format",
                "text.format.type: text, json_object or json_schema",
            ))
        }
    })
}

fn str_of<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, ProxyError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(at, format!("{at}.{key}: a string is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_become_chat_messages() {
        let chat = chat_of(&json!({
            "model": "gpt-4o-mini", "instructions": "Be brief.", "max_output_tokens": 50,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
            "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}],
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}
        }))
        .unwrap();
        let m = &chat["messages"];
        assert_eq!(m[0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(
            m[1]["content"][0],
            json!({"type": "text", "text": "Weather?"})
        );
        assert_eq!(m[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"})
        );
        assert_eq!(chat["max_tokens"], 50);
        assert_eq!(chat["tools"][0]["function"]["name"], "w");
        assert_eq!(chat["response_format"]["json_schema"]["name"], "x");
    }

    #[test]
    fn what_cannot_be_served_is_refused() {
        let e = chat_of(&json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}));
        assert!(e.unwrap_err().to_string().contains("stores no responses"));
        let e = chat_of(&json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}));
        assert!(e.unwrap_err().to_string().contains("function tools"));
        assert!(chat_of(&json!({"model": "m"})).is_err());
    }
}
