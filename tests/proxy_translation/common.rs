//! What the Anthropic and Gemini translation tests share: mounting provider answers, reading
//! what the upstream received, and taking the gateway's SSE answers apart.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::upstream::{Answer, Gateway};

/// Mounts a JSON answer on `at`; `once` makes it answer a single request (priority over others).
pub async fn mount_json(g: &Gateway, at: &str, status: u16, body: Value, once: bool) {
    let mut mock = Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status).set_body_json(body));
    if once {
        mock = mock.up_to_n_times(1).with_priority(1);
    }
    mock.mount(&g.mock).await;
}

/// Mounts a server-sent-events answer (the whole body at once) on `at`.
pub async fn mount_sse(g: &Gateway, at: &str, sse: String) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse),
        )
        .mount(&g.mock)
        .await;
}

/// The JSON bodies the upstream received on `at`, in order.
pub async fn bodies(g: &Gateway, at: &str) -> Vec<Value> {
    g.received(at)
        .await
        .iter()
        .map(|r| r.body_json::<Value>().expect("upstream body is JSON"))
        .collect()
}

/// A header of every request the upstream received on `at`.
pub async fn header_values(g: &Gateway, at: &str, name: &str) -> Vec<String> {
    g.received(at)
        .await
        .iter()
        .map(|r| {
            let v = r.headers.get(name).and_then(|v| v.to_str().ok());
            v.unwrap_or("").to_string()
        })
        .collect()
}

/// The OpenAI weather tool both providers are asked to translate.
pub fn weather_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a given city",
            "parameters": weather_schema(),
        }
    })
}

pub fn weather_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["location"]
    })
}

/// The arguments every mocked tool call carries.
pub fn paris() -> Value {
    json!({"location": "Paris", "unit": "celsius"})
}

/// The tool result the client sends back on the second turn.
pub const WEATHER_RESULT: &str = r#"{"temperature":18,"condition":"partly cloudy"}"#;

/// A successful streamed answer: its `data:` payloads before `[DONE]` as JSON, after checking
/// the status, the content type, that the body ends with `data: [DONE]` and that every payload
/// is a `chat.completion.chunk`.
pub fn sse_chunks(r: &Answer) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert!(
        r.text.trim_end().ends_with("data: [DONE]"),
        "stream does not end with [DONE]: {}",
        r.text
    );
    let payloads: Vec<&str> = r
        .text
        .split("\n\n")
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .expect("every event is a data line")
        })
        .collect();
    assert_eq!(
        payloads.iter().filter(|p| **p == "[DONE]").count(),
        1,
        "{}",
        r.text
    );
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).expect("a data line is JSON"))
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert!(c["choices"].is_array(), "{c}");
    }
    chunks
}

/// The chunks' choices (index 0 only: these tests ask for one choice).
fn deltas(chunks: &[Value]) -> impl Iterator<Item = &Value> {
    chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().into_iter().flatten())
}

/// The concatenated `delta.content` of a stream.
pub fn joined_content(chunks: &[Value]) -> String {
    deltas(chunks)
        .filter_map(|c| c["delta"]["content"].as_str())
        .collect()
}

/// The non-null finish reasons of a stream, in order.
pub fn finish_reasons(chunks: &[Value]) -> Vec<String> {
    deltas(chunks)
        .filter_map(|c| c["finish_reason"].as_str().map(str::to_string))
        .collect()
}

/// The streamed tool call with `index` 0 reassembled: (id, name, concatenated arguments).
pub fn joined_call(chunks: &[Value]) -> (String, String, String) {
    let (mut id, mut name, mut args) = (String::new(), String::new(), String::new());
    let calls =
        deltas(chunks).flat_map(|c| c["delta"]["tool_calls"].as_array().into_iter().flatten());
    for call in calls {
        assert_eq!(call["index"], 0, "one tool call expected: {call}");
        id.push_str(call["id"].as_str().unwrap_or(""));
        name.push_str(call["function"]["name"].as_str().unwrap_or(""));
        args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
    }
    (id, name, args)
}

/// The chunks without choices (usage chunks).
pub fn usage_chunks(chunks: &[Value]) -> Vec<&Value> {
    chunks
        .iter()
        .filter(|c| c["choices"].as_array().is_some_and(|a| a.is_empty()))
        .collect()
}

/// Checks an OpenAI-shaped upstream error: the status, the four fields, the provider's message.
pub fn assert_upstream_error(r: &Answer, status: StatusCode, message: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let error = r.body["error"].as_object().expect("an error object");
    for field in ["message", "type", "param", "code"] {
        assert!(error.contains_key(field), "no {field} in {}", r.text);
    }
    assert_eq!(r.body["error"]["message"], message, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "upstream_error");
    assert_eq!(r.body["error"]["upstream_status"], status.as_u16());
}

/// The usage record of the only request of `project`.
pub async fn only_log(g: &Gateway, project: &str) -> Value {
    let logs = g.usage_logs(project, 1).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs[0].clone()
}
