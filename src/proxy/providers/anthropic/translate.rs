//! Translation between OpenAI chat completions JSON and Anthropic's Messages API.
//!
//! Pure functions over `serde_json::Value`: requests, responses, stream events and errors.

use serde_json::{json, Map, Value};

use crate::proxy::providers::types::{TranslateError, Usage};

/// Anthropic requires `max_tokens`; this is used when the client sets none.
const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Stream events that are invalid before message_start has given the message id.
pub(super) const NEEDS_START: [&str; 3] = [
    "content_block_start",
    "content_block_delta",
    "message_delta",
];
const JSON_ONLY: &str =
    "Respond with only a valid JSON object, with no other text before or after it.";

/// OpenAI chat request JSON -> Anthropic Messages request body. `model` is Anthropic's model name
/// (replaces the request's "model"). `stream` sets "stream".
pub fn request(openai: &Value, model: &str, stream: bool) -> Result<Value, TranslateError> {
    let not_object = || TranslateError::InvalidRequest {
        param: None,
        message: "the request body must be a JSON object".into(),
    };
    let req = openai.as_object().ok_or_else(not_object)?;
    if let Some(n) = present(req, "n") {
        if n.as_u64().is_none_or(|n| n > 1) {
            return Err(invalid("n", "only n=1 is supported by this provider"));
        }
    }
    let messages = match req.get("messages").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m,
        _ => return Err(bad_msg("messages must be a non-empty array")),
    };

    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, Value)> = Vec::new();
    for msg in messages {
        let content = msg.get("content").unwrap_or(&Value::Null);
        let turn = match msg.get("role").and_then(Value::as_str).unwrap_or("") {
            "system" | "developer" => {
                system.extend(Some(text_of(content, "\n\n")?).filter(|t| !t.is_empty()));
                None
            }
            "user" => Some(("user", user_content(content)?)),
            "assistant" => assistant_content(msg, content)?.map(|c| ("assistant", c)),
            "tool" => {
                let id = str_at(msg, "tool_call_id");
                let id = id.ok_or_else(|| bad_msg("a tool message needs a tool_call_id"))?;
                let text = text_of(content, "")?;
                let result = json!({"type": "tool_result", "tool_use_id": id, "content": text});
                Some(("user", json!([result])))
            }
            other => return Err(bad_msg(format!("unsupported role {other:?}"))),
        };
        if let Some((role, content)) = turn {
            push_turn(&mut turns, role, content);
        }
    }

    if turns.is_empty() {
        return Err(bad_msg("no user or assistant message to send"));
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(r, c)| json!({"role": r, "content": c}))
        .collect();
    out.insert("messages".into(), Value::Array(messages));
    out.insert("max_tokens".into(), json!(max_tokens(req)?));
    out.insert("stream".into(), json!(stream));
    if let Some(t) = number(req, "temperature")? {
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = number(req, "top_p")? {
        out.insert("top_p".into(), json!(p));
    }
    if let Some(stop) = stop_sequences(req)? {
        out.insert("stop_sequences".into(), json!(stop));
    }
    if let Some(user) = present(req, "user") {
        let user = user
            .as_str()
            .ok_or_else(|| invalid("user", "not a string"))?;
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    system.extend(json_instruction(req)?);
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    let tools = tools(req)?;
    let has_tools = !tools.is_empty();
    if has_tools {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice(req, has_tools)? {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out))
}

/// Anthropic Messages response body -> OpenAI "chat.completion" JSON and the usage.
/// `model` is the model id to report; `created` the Unix time to report.
pub fn response(body: &Value, model: &str, created: i64) -> Result<(Value, Usage), TranslateError> {
    if str_at(body, "type") == Some("error") {
        let msg = error_message(body).unwrap_or_else(|| "error without a message".into());
        return Err(TranslateError::BadUpstream(msg));
    }
    let blocks = body.get("content").and_then(Value::as_array);
    let blocks = blocks.ok_or_else(|| bad("the message has no content array"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match str_at(block, "type") {
            Some("text") => text.push_str(str_at(block, "text").unwrap_or("")),
            Some("tool_use") => tool_calls.push(json!({
                "id": str_at(block, "id"),
                "type": "function",
                "function": {
                    "name": str_at(block, "name"),
                    "arguments": block.get("input").unwrap_or(&json!({})).to_string(),
                },
            })),
            // Thinking, redacted thinking and server-side tool blocks have no OpenAI form.
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !tool_calls.is_empty() {
        let content = Some(text).filter(|t| !t.is_empty());
        message = json!({"role": "assistant", "content": content, "tool_calls": tool_calls});
    }
    let usage = usage_of(body);
    let out = json!({
        "id": str_at(body, "id").unwrap_or(""),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": str_at(body, "stop_reason").map(finish_reason),
        }],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            "prompt_tokens_details": crate::proxy::providers::prompt_details(&usage),
        },
    });
    Ok((out, usage))
}

/// The usage of a Messages answer.
pub fn usage_of(body: &Value) -> Usage {
    let mut raw = RawUsage::default();
    raw.update(body.get("usage"));
    raw.usage()
}

/// The human-readable message of an Anthropic error body ({"type":"error","error":{"type","message"}}).
pub fn error_message(body: &Value) -> Option<String> {
    body.pointer("/error/message")?.as_str().map(str::to_string)
}

/// Anthropic's usage counters. Events carry cumulative subsets, so each keeps its largest value.
#[derive(Default)]
pub(super) struct RawUsage {
    input: u64,
    cache_read: u64,
    cache_creation: u64,
    output: u64,
}

impl RawUsage {
    pub(super) fn update(&mut self, usage: Option<&Value>) {
        let Some(u) = usage else { return };
        let fields = [
            ("input_tokens", &mut self.input),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_creation),
            ("output_tokens", &mut self.output),
        ];
        for (key, slot) in fields {
            if let Some(n) = u.get(key).and_then(Value::as_u64) {
                *slot = (*slot).max(n);
            }
        }
    }

    pub(super) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.input + self.cache_read + self.cache_creation,
            completion_tokens: self.output,
            cached_tokens: self.cache_read,
            reasoning_tokens: 0,
            cache_creation_tokens: self.cache_creation,
        }
    }
}

pub(super) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => "stop",
    }
}

pub(super) fn block_index(data: &Value) -> Result<u64, TranslateError> {
    let index = data.get("index").and_then(Value::as_u64);
    index.ok_or_else(|| bad("content block event without an index"))
}

fn invalid(param: &str, message: impl Into<String>) -> TranslateError {
    TranslateError::invalid(param, message)
}

/// An invalid request whose fault is in `messages`.
fn bad_msg(message: impl Into<String>) -> TranslateError {
    TranslateError::invalid("messages", message)
}

pub(super) fn bad(message: &str) -> TranslateError {
    TranslateError::BadUpstream(message.to_string())
}

/// `object` with `key` set to `value` (`object` is always one this module built).
fn with(mut object: Value, key: &str, value: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_string(), value);
    }
    object
}

pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A field that is present and not null.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn number(req: &Map<String, Value>, key: &str) -> Result<Option<f64>, TranslateError> {
    let value = present(req, key).map(Value::as_f64);
    value
        .map(|v| v.ok_or_else(|| invalid(key, "not a number")))
        .transpose()
}

/// Appends a turn, merging it into the previous one when the roles match (Anthropic requires
/// alternating roles).
fn push_turn(turns: &mut Vec<(&'static str, Value)>, role: &'static str, content: Value) {
    match turns.last_mut() {
        Some((last_role, last)) if *last_role == role => {
            let mut merged = into_blocks(std::mem::take(last));
            merged.extend(into_blocks(content));
            *last = Value::Array(merged);
        }
        _ => turns.push((role, content)),
    }
}

fn into_blocks(content: Value) -> Vec<Value> {
    match content {
        Value::Array(blocks) => blocks,
        Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
        _ => Vec::new(),
    }
}

/// The text of string content or of an array of text parts, parts joined with `sep`.
fn text_of(content: &Value, sep: &str) -> Result<String, TranslateError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        _ => {
            let blocks = parts(content, false)?;
            let texts: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            Ok(texts.join(sep))
        }
    }
}

/// Anthropic content blocks of an array of OpenAI content parts (images only when `images`).
/// Empty text parts are dropped: Anthropic rejects empty text blocks.
fn parts(content: &Value, images: bool) -> Result<Vec<Value>, TranslateError> {
    let parts = content.as_array().ok_or_else(|| bad_msg("bad content"))?;
    let mut blocks = Vec::new();
    for part in parts {
        let kind = str_at(part, "type").unwrap_or("");
        let text = match kind {
            "text" | "refusal" => str_at(part, kind),
            "image_url" if images => {
                blocks.push(image_block(part)?);
                continue;
            }
            _ => return Err(bad_msg(format!("unsupported content part {kind:?}"))),
        };
        let text = text.ok_or_else(|| bad_msg(format!("a {kind} part without {kind}")))?;
        if !text.is_empty() {
            blocks.push(json!({"type": "text", "text": text}));
        }
    }
    Ok(blocks)
}

fn user_content(content: &Value) -> Result<Value, TranslateError> {
    match content {
        Value::String(s) => Ok(json!(s)),
        _ => Ok(Value::Array(parts(content, true)?)),
    }
}

fn image_block(part: &Value) -> Result<Value, TranslateError> {
    let image = part.get("image_url");
    // OpenAI sends {"url", "detail"}; a bare URL string is accepted too.
    let url = image.and_then(|i| i.get("url")).or(image);
    let url = url.and_then(Value::as_str).unwrap_or("");
    if let Some(rest) = url.strip_prefix("data:") {
        let (mime, data) = rest
            .split_once(";base64,")
            .ok_or_else(|| bad_msg("image data URLs must be base64"))?;
        let source = json!({"type": "base64", "media_type": mime, "data": data});
        return Ok(json!({"type": "image", "source": source}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(bad_msg("image URLs must be http(s) or base64 data URLs"))
}

/// The content of an assistant turn, or None when it has neither text nor tool calls.
fn assistant_content(msg: &Value, content: &Value) -> Result<Option<Value>, TranslateError> {
    let calls = match msg.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(calls)) => calls.as_slice(),
        Some(_) => return Err(bad_msg("tool_calls must be an array")),
    };
    let mut blocks = match content {
        Value::Null => Vec::new(),
        Value::String(s) if calls.is_empty() => return Ok((!s.is_empty()).then(|| json!(s))),
        Value::String(s) => into_blocks(json!(s)),
        _ => parts(content, false)?,
    };
    for call in calls {
        blocks.push(tool_use_block(call)?);
    }
    Ok((!blocks.is_empty()).then_some(Value::Array(blocks)))
}

fn tool_use_block(call: &Value) -> Result<Value, TranslateError> {
    let id = str_at(call, "id");
    let name = call.pointer("/function/name").and_then(Value::as_str);
    let (Some(id), Some(name)) = (id, name) else {
        return Err(bad_msg("each tool call needs an id and a function name"));
    };
    let args = match call.pointer("/function/arguments") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad_msg("tool call arguments must be a string")),
    };
    let input: Value = match args.trim() {
        "" => json!({}),
        args => serde_json::from_str(args)
            .map_err(|e| bad_msg(format!("tool call {id}: arguments are not JSON: {e}")))?,
    };
    if !input.is_object() {
        return Err(bad_msg(format!(
            "tool call {id}: arguments must be an object"
        )));
    }
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

fn max_tokens(req: &Map<String, Value>) -> Result<u64, TranslateError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = present(req, key) {
            return v
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(key, format!("{key} must be a positive integer")));
        }
    }
    Ok(DEFAULT_MAX_TOKENS)
}

fn stop_sequences(req: &Map<String, Value>) -> Result<Option<Vec<String>>, TranslateError> {
    let stops = match present(req, "stop") {
        None => return Ok(None),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(items)) => items.iter().map(|s| s.as_str().map(String::from)).collect(),
        Some(_) => None,
    };
    let stops = stops.ok_or_else(|| invalid("stop", "must be a string or an array of strings"))?;
    Ok(Some(stops).filter(|s| !s.is_empty()))
}

/// The system-prompt instruction standing in for OpenAI's `response_format`.
fn json_instruction(req: &Map<String, Value>) -> Result<Option<String>, TranslateError> {
    let Some(format) = present(req, "response_format") else {
        return Ok(None);
    };
    match str_at(format, "type") {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(JSON_ONLY.to_string())),
        Some("json_schema") => {
            let schema = format.pointer("/json_schema/schema");
            let schema =
                schema.ok_or_else(|| invalid("response_format", "no json_schema.schema"))?;
            let conform = "The JSON object must conform to this JSON Schema:";
            Ok(Some(format!("{JSON_ONLY} {conform}\n{schema}")))
        }
        other => {
            let message = format!("unsupported type {other:?}");
            Err(invalid("response_format", message))
        }
    }
}

fn tools(req: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
    let Some(list) = present(req, "tools") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| invalid("tools", "not an array"))?;
    let mut out = Vec::new();
    for tool in list {
        let name = call_name(tool).ok_or_else(|| invalid("tools", "only function tools work"))?;
        let mut t = json!({"name": name});
        let function = tool.get("function").unwrap_or(&Value::Null);
        if let Some(d) = function.get("description").filter(|d| d.is_string()) {
            t = with(t, "description", d.clone());
        }
        let schema = function.get("parameters").filter(|p| !p.is_null()).cloned();
        let empty = json!({"type": "object", "properties": {}});
        out.push(with(t, "input_schema", schema.unwrap_or(empty)));
    }
    Ok(out)
}

/// The function name of an OpenAI tool or named tool choice, `{"type":"function","function":{"name"}}`.
fn call_name(v: &Value) -> Option<&str> {
    let name = v.pointer("/function/name").and_then(Value::as_str);
    name.filter(|_| str_at(v, "type") == Some("function"))
}

/// Anthropic's `tool_choice`; only sent along with tools, as Anthropic requires.
fn tool_choice(req: &Map<String, Value>, has_tools: bool) -> Result<Option<Value>, TranslateError> {
    let choice = match present(req, "tool_choice") {
        None => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "required" => Some(json!({"type": "any"})),
            "none" => Some(json!({"type": "none"})),
            other => return Err(invalid("tool_choice", format!("unknown value {other:?}"))),
        },
        Some(obj) => {
            let name = call_name(obj).ok_or_else(|| invalid("tool_choice", "not a function"))?;
            Some(json!({"type": "tool", "name": name}))
        }
    };
    let serial = present(req, "parallel_tool_calls").and_then(Value::as_bool) == Some(false);
    let mut choice = match choice {
        _ if !has_tools => return Ok(None),
        None if serial => json!({"type": "auto"}),
        None => return Ok(None),
        Some(c) => c,
    };
    // Anthropic's "none" choice takes no other fields.
    if serial && choice["type"] != "none" {
        choice = with(choice, "disable_parallel_tool_use", json!(true));
    }
    Ok(Some(choice))
}
