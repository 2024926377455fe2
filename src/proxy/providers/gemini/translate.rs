//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse` <-> OpenAI chat completions.
//!
//! Pure translation, no I/O. The model travels in the request URL, never in the body.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::proxy::providers::types::{TranslateError, Usage};
use crate::proxy::providers::usage_json;

fn inv(param: &str, message: impl Into<String>) -> TranslateError {
    TranslateError::invalid(param, message)
}

/// An invalid request blamed on `messages[i]`.
fn msg_err(i: usize, what: &str) -> TranslateError {
    TranslateError::invalid("messages", format!("messages[{i}]: {what}"))
}

pub(super) fn bad(message: impl Into<String>) -> TranslateError {
    TranslateError::BadUpstream(message.into())
}

/// `v[key]` unless absent or null.
pub(super) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// OpenAI chat request JSON -> Gemini GenerateContentRequest body
/// (the model goes in the URL, not the body).
pub fn request(openai: &Value) -> Result<Value, TranslateError> {
    let messages = match field(openai, "messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        _ => return Err(inv("messages", "messages must be a non-empty array")),
    };
    let mut system: Vec<String> = Vec::new();
    let mut contents: Vec<(&str, Vec<Value>)> = Vec::new();
    // tool_call_id -> function name, from earlier assistant turns.
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, msg) in messages.iter().enumerate() {
        let content = field(msg, "content");
        let (role, parts) = match str_of(msg, "role") {
            Some("system" | "developer") => {
                system.push(plain_text(content, i)?);
                continue;
            }
            Some("user") => ("user", user_parts(content, i)?),
            Some("assistant") => ("model", assistant_parts(msg, i, &mut names)?),
            Some("tool") => ("user", vec![tool_result(msg, i, &names)?]),
            _ => return Err(msg_err(i, "unsupported or missing role")),
        };
        match contents.last_mut() {
            _ if parts.is_empty() => {}
            Some((last, prev)) if *last == role => prev.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    if contents.is_empty() {
        return Err(inv("messages", "no user or assistant messages"));
    }
    let contents: Vec<Value> = contents
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    let mut out = json!({ "contents": contents });
    system.retain(|s| !s.is_empty());
    if !system.is_empty() {
        out["systemInstruction"] = json!({"parts": [{"text": system.join("\n\n")}]});
    }
    if let Some(tools) = field(openai, "tools") {
        let declarations = declarations(tools)?;
        if !declarations.is_empty() {
            out["tools"] = json!([{ "functionDeclarations": declarations }]);
        }
    }
    if let Some(choice) = field(openai, "tool_choice") {
        out["toolConfig"] = tool_config(choice)?;
    }
    let config = generation_config(openai)?;
    if !config.is_empty() {
        out["generationConfig"] = Value::Object(config);
    }
    Ok(out)
}

/// The text of a system, developer, assistant or tool message: a string or an array of text parts.
fn plain_text(content: Option<&Value>, i: usize) -> Result<String, TranslateError> {
    match content {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| {
                str_of(p, "text").ok_or_else(|| msg_err(i, "only text parts are allowed here"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| texts.join("\n")),
        Some(_) => Err(msg_err(i, "content must be a string or an array")),
    }
}

fn user_parts(content: Option<&Value>, i: usize) -> Result<Vec<Value>, TranslateError> {
    let parts = match content {
        Some(Value::Array(parts)) => parts,
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![json!({ "text": s })]),
        _ => return Err(msg_err(i, "content must be a string or an array")),
    };
    let convert = |part: &Value| match str_of(part, "type") {
        Some("text") => str_of(part, "text")
            .map(|t| json!({ "text": t }))
            .ok_or_else(|| msg_err(i, "a text part needs a string \"text\"")),
        Some("image_url") => {
            let url = part.get("image_url");
            let url = url.and_then(|u| u.as_str().or_else(|| str_of(u, "url")));
            image_part(url.unwrap_or_default(), i)
        }
        _ => Err(msg_err(i, "unsupported content part type")),
    };
    parts.iter().map(convert).collect()
}

fn image_part(url: &str, i: usize) -> Result<Value, TranslateError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').unwrap_or_default();
        let mime = meta.split(';').next().unwrap_or_default();
        if !meta.ends_with(";base64") || mime.is_empty() || data.is_empty() {
            return Err(msg_err(i, "expected data:<mime>;base64,<data>"));
        }
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(msg_err(i, "image_url must be http(s) or base64 data"));
    }
    let path = lower.split(['?', '#']).next().unwrap_or_default();
    let mime = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "image/jpeg",
    };
    Ok(json!({"fileData": {"fileUri": url, "mimeType": mime}}))
}

fn assistant_parts(
    msg: &Value,
    i: usize,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, TranslateError> {
    let text = plain_text(field(msg, "content"), i)?;
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(json!({ "text": text }));
    }
    let calls = match field(msg, "tool_calls") {
        None => return Ok(parts),
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(msg_err(i, "tool_calls must be an array")),
    };
    for call in calls {
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = str_of(function, "name")
            .ok_or_else(|| msg_err(i, "a tool call needs function.name"))?;
        let args = match field(function, "arguments") {
            None => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(other) => other.clone(),
        };
        if !args.is_object() {
            return Err(msg_err(i, "tool call arguments must be a JSON object"));
        }
        if let Some(id) = str_of(call, "id") {
            names.insert(id.to_string(), name.to_string());
        }
        parts.push(json!({"functionCall": {"name": name, "args": args}}));
    }
    Ok(parts)
}

fn tool_result(
    msg: &Value,
    i: usize,
    names: &HashMap<String, String>,
) -> Result<Value, TranslateError> {
    let id =
        str_of(msg, "tool_call_id").ok_or_else(|| msg_err(i, "tool_call_id must be a string"))?;
    let name = names
        .get(id)
        .ok_or_else(|| msg_err(i, "tool_call_id matches no earlier assistant tool call"))?;
    let content = plain_text(field(msg, "content"), i)?;
    let response = match serde_json::from_str::<Value>(&content) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({ "content": content }),
    };
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

fn declarations(tools: &Value) -> Result<Vec<Value>, TranslateError> {
    let tools = tools
        .as_array()
        .ok_or_else(|| inv("tools", "tools must be an array"))?;
    let convert = |tool: &Value| {
        let function = field(tool, "function").filter(|_| str_of(tool, "type") == Some("function"));
        let name = function.and_then(|f| str_of(f, "name"));
        let (Some(function), Some(name)) = (function, name) else {
            return Err(inv("tools", "each tool must be a function with a name"));
        };
        let mut declaration = json!({ "name": name });
        for key in ["description", "parameters"] {
            if let Some(v) = field(function, key) {
                declaration[key] = v.clone();
            }
        }
        Ok(declaration)
    };
    tools.iter().map(convert).collect()
}

fn tool_config(choice: &Value) -> Result<Value, TranslateError> {
    const EXPECTED: &str = "tool_choice must be auto, none, required or a function";
    let config = match choice.as_str() {
        Some("auto") => json!({"mode": "AUTO"}),
        Some("none") => json!({"mode": "NONE"}),
        Some("required") => json!({"mode": "ANY"}),
        Some(_) => return Err(inv("tool_choice", EXPECTED)),
        None => match choice.get("function").and_then(|f| str_of(f, "name")) {
            Some(name) if str_of(choice, "type") == Some("function") => {
                json!({"mode": "ANY", "allowedFunctionNames": [name]})
            }
            _ => return Err(inv("tool_choice", EXPECTED)),
        },
    };
    Ok(json!({ "functionCallingConfig": config }))
}

fn generation_config(openai: &Value) -> Result<Map<String, Value>, TranslateError> {
    let mut config = Map::new();
    // (OpenAI field, Gemini field, must be an integer); max_completion_tokens wins over max_tokens.
    let numbers = [
        ("temperature", "temperature", false),
        ("top_p", "topP", false),
        ("max_tokens", "maxOutputTokens", true),
        ("max_completion_tokens", "maxOutputTokens", true),
        ("n", "candidateCount", true),
        ("seed", "seed", true),
        ("presence_penalty", "presencePenalty", false),
        ("frequency_penalty", "frequencyPenalty", false),
    ];
    for (key, gemini_key, integer) in numbers {
        let Some(v) = field(openai, key) else {
            continue;
        };
        if !(v.is_i64() || v.is_u64() || (!integer && v.is_number())) {
            let kind = if integer { "an integer" } else { "a number" };
            return Err(inv(key, format!("{key} must be {kind}")));
        }
        config.insert(gemini_key.into(), v.clone());
    }
    match field(openai, "stop") {
        None => {}
        Some(Value::String(s)) => {
            config.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            config.insert("stopSequences".into(), json!(a));
        }
        Some(_) => return Err(inv("stop", "stop must be a string or an array of strings")),
    }
    let Some(format) = field(openai, "response_format") else {
        return Ok(config);
    };
    let schema = match str_of(format, "type") {
        Some("text") => return Ok(config),
        Some("json_object") => None,
        Some("json_schema") => match format.get("json_schema").and_then(|s| field(s, "schema")) {
            Some(schema) if schema.is_object() => Some(schema.clone()),
            _ => return Err(inv("response_format", "missing json_schema.schema")),
        },
        _ => return Err(inv("response_format", "unsupported response_format type")),
    };
    config.insert("responseMimeType".into(), json!("application/json"));
    if let Some(schema) = schema {
        config.insert("responseJsonSchema".into(), schema);
    }
    Ok(config)
}

/// Gemini GenerateContentResponse -> OpenAI "chat.completion" JSON and usage.
/// `model`: the id to report, `id`: the completion id to report (e.g. "chatcmpl-..."),
/// `created`: Unix time to report.
pub fn response(
    body: &Value,
    model: &str,
    id: &str,
    created: i64,
) -> Result<(Value, Usage), TranslateError> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("response body is not a JSON object"))?;
    if obj.contains_key("error") {
        return Err(upstream_error(body));
    }
    let usage = parse_usage(obj.get("usageMetadata"))?;
    let candidates = candidates_of(obj)?;
    let mut choices = Vec::with_capacity(candidates.len().max(1));
    if candidates.is_empty() {
        if !is_blocked(obj) {
            return Err(bad("neither candidates nor a block reason"));
        }
        let message = json!({"role": "assistant", "content": null});
        let finish = "content_filter";
        choices.push(
            json!({"index": 0, "message": message, "finish_reason": finish, "logprobs": null}),
        );
    }
    for (pos, candidate) in candidates.iter().enumerate() {
        let index = candidate_index(candidate, pos)?;
        let parsed = parse_parts(candidate)?;
        let mut message = json!({"role": "assistant", "content": parsed.text});
        if !parsed.calls.is_empty() {
            let calls = parsed.calls.iter().enumerate();
            let calls = calls.map(|(n, (name, args))| tool_call(index, n, name, args));
            message["tool_calls"] = Value::Array(calls.collect());
        }
        let reason = str_of(candidate, "finishReason").unwrap_or("STOP");
        let finish = finish_reason(reason, !parsed.calls.is_empty());
        choices.push(
            json!({"index": index, "message": message, "finish_reason": finish, "logprobs": null}),
        );
    }
    let out = json!({"id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": choices, "usage": usage_json(&usage)});
    Ok((out, usage))
}

/// The message of a Gemini error body ({"error":{"code","message","status"}}).
pub fn error_message(body: &Value) -> Option<String> {
    // Streams without `alt=sse` wrap the error in a one-element array.
    let body = match body {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let error = body.get("error")?;
    let message = str_of(error, "message").or_else(|| error.as_str())?;
    Some(message.to_string())
}

pub(super) fn upstream_error(body: &Value) -> TranslateError {
    bad(error_message(body).unwrap_or_else(|| "error without a message".into()))
}

pub(super) fn candidates_of(obj: &Map<String, Value>) -> Result<&[Value], TranslateError> {
    match obj.get("candidates") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(c)) => Ok(c),
        Some(_) => Err(bad("candidates is not an array")),
    }
}

pub(super) fn is_blocked(obj: &Map<String, Value>) -> bool {
    let feedback = obj.get("promptFeedback");
    feedback.and_then(|f| str_of(f, "blockReason")).is_some()
}

/// Gemini omits `index` when it is 0, so fall back to the position.
pub(super) fn candidate_index(candidate: &Value, pos: usize) -> Result<u64, TranslateError> {
    match field(candidate, "index") {
        None => Ok(pos as u64),
        Some(v) => v.as_u64().ok_or_else(|| bad("bad candidate index")),
    }
}

/// A candidate's visible text (None without text parts) and function calls as (name, args JSON).
pub(super) struct Parsed {
    pub(super) text: Option<String>,
    pub(super) calls: Vec<(String, String)>,
}

pub(super) fn parse_parts(candidate: &Value) -> Result<Parsed, TranslateError> {
    let mut parsed = Parsed {
        text: None,
        calls: Vec::new(),
    };
    let parts = match candidate.get("content").and_then(|c| field(c, "parts")) {
        None => return Ok(parsed),
        Some(Value::Array(parts)) => parts,
        Some(_) => return Err(bad("candidate content.parts is not an array")),
    };
    let visible = parts.iter().filter(|p| !is_thought(p));
    for part in visible {
        if let Some(text) = part.get("text") {
            let text = text.as_str().ok_or_else(|| bad("non-string text"))?;
            parsed.text.get_or_insert_with(String::new).push_str(text);
        } else if let Some(call) = part.get("functionCall") {
            let name = str_of(call, "name").ok_or_else(|| bad("functionCall without a name"))?;
            let args = field(call, "args").map_or_else(|| "{}".to_string(), Value::to_string);
            parsed.calls.push((name.to_string(), args));
        }
    }
    Ok(parsed)
}

fn is_thought(part: &Value) -> bool {
    part.get("thought") == Some(&Value::Bool(true))
}

pub(super) fn tool_call(candidate: u64, n: usize, name: &str, args: &str) -> Value {
    json!({"id": format!("call_{candidate}_{n}"), "type": "function",
        "function": {"name": name, "arguments": args}})
}

pub(super) fn finish_reason(reason: &str, has_calls: bool) -> &'static str {
    match reason {
        "STOP" if has_calls => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        _ => "stop",
    }
}

pub(super) fn parse_usage(meta: Option<&Value>) -> Result<Usage, TranslateError> {
    let Some(meta) = meta.filter(|m| !m.is_null()) else {
        return Ok(Usage::default());
    };
    let count = |key: &str| match field(meta, key) {
        None => Ok(0),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| bad(format!("usageMetadata.{key} is not a count"))),
    };
    let thoughts = count("thoughtsTokenCount")?;
    Ok(Usage {
        prompt_tokens: count("promptTokenCount")?,
        completion_tokens: count("candidatesTokenCount")?.saturating_add(thoughts),
        cached_tokens: count("cachedContentTokenCount")?,
        reasoning_tokens: thoughts,
        cache_creation_tokens: 0,
    })
}
