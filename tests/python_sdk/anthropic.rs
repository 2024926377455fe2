//! The official Anthropic Python SDK against a real gateway (`tests/python/test_anthropic_sdk.py`):
//! `/v1/messages` to an Anthropic model (Anthropic mocked) and to an OpenAI model (translated,
//! OpenAI mocked), plain, streamed and with a tool round trip, and a wrong key.

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::Backend;
use crate::upstream::{openai_answer, openai_stream, spawn_gateway};

const OPENAI: &str = "/openai/v1/chat/completions";
const ANTHROPIC: &str = "/anthropic/v1/messages";
const CLAUDE: &str = "claude-sonnet-4-5-20250929";

fn message(content: Value, stop: &str) -> Value {
    json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": CLAUDE,
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 11, "output_tokens": 5}})
}

fn anthropic_stream(words: &[&str]) -> String {
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_stream", "type": "message", "role": "assistant", "content": [], "model": CLAUDE,
        "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 9, "output_tokens": 1}}})];
    events.push(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}));
    for w in words {
        events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}));
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 4}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .map(|e| {
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

pub async fn mount(
    mock: &MockServer,
    at: &str,
    priority: u8,
    matcher: Option<impl wiremock::Match + 'static>,
    answer: ResponseTemplate,
) {
    let m = Mock::given(method("POST")).and(path(at));
    match matcher {
        Some(matcher) => {
            m.and(matcher)
                .respond_with(answer)
                .with_priority(priority)
                .mount(mock)
                .await
        }
        None => {
            m.respond_with(answer)
                .with_priority(priority)
                .mount(mock)
                .await
        }
    }
}

pub fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}

/// Anthropic's and OpenAI's answers for the SDK scripts: a tool call when a request offers
/// `get_weather`, a text once the tool's result comes back, a stream when asked, else a text.
pub async fn upstreams(m: &MockServer) {
    let tool_call = json!([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]);
    let sunny = json!([{"type": "text", "text": "It is sunny in Paris"}]);
    mount(
        m,
        ANTHROPIC,
        1,
        Some(body_string_contains("tool_result")),
        ResponseTemplate::new(200).set_body_json(message(sunny, "end_turn")),
    )
    .await;
    mount(
        m,
        ANTHROPIC,
        2,
        Some(body_string_contains("get_weather")),
        ResponseTemplate::new(200).set_body_json(message(tool_call, "tool_use")),
    )
    .await;
    mount(
        m,
        ANTHROPIC,
        3,
        Some(body_partial_json(json!({"stream": true}))),
        sse(anthropic_stream(&["Hello", " from the", " Claude stream"])),
    )
    .await;
    let hello = json!([{"type": "text", "text": "Hello from Claude"}]);
    mount(
        m,
        ANTHROPIC,
        10,
        None::<wiremock::matchers::MethodExactMatcher>,
        ResponseTemplate::new(200).set_body_json(message(hello, "end_turn")),
    )
    .await;

    let mut gpt_call = openai_answer("", 20, 8);
    gpt_call["choices"][0]["message"] = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]});
    gpt_call["choices"][0]["finish_reason"] = json!("tool_calls");
    mount(
        m,
        OPENAI,
        1,
        Some(body_string_contains("\"role\":\"tool\"")),
        ResponseTemplate::new(200).set_body_json(openai_answer("It is sunny in Paris", 30, 6)),
    )
    .await;
    mount(
        m,
        OPENAI,
        2,
        Some(body_string_contains("get_weather")),
        ResponseTemplate::new(200).set_body_json(gpt_call),
    )
    .await;
    mount(
        m,
        OPENAI,
        3,
        Some(body_partial_json(json!({"stream": true}))),
        sse(openai_stream(&["Hello", " from", " the stream"], 7, 3)),
    )
    .await;
    mount(
        m,
        OPENAI,
        10,
        None::<wiremock::matchers::MethodExactMatcher>,
        ResponseTemplate::new(200).set_body_json(openai_answer("Hello from the mock", 12, 4)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_python_sdk() {
    let python = crate::python();
    let g = spawn_gateway(Backend::Sqlite).await;
    upstreams(&g.mock).await;

    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let out = crate::run_script(
        &python,
        "tests/python/test_anthropic_sdk.py",
        &g.t.base,
        &tenant.token,
        &[],
    )
    .await;
    assert!(out.0, "{}", out.1);

    // Each check's requests were metered as Messages requests (the wrong key's never was).
    let logs = g.usage_logs(&tenant.project, 8).await;
    assert_eq!(logs.len(), 8, "{logs:#?}");
    assert!(
        logs.iter().all(|l| l["endpoint"] == "messages"),
        "{logs:#?}"
    );
    assert!(logs.iter().all(|l| l["status"] == 200), "{logs:#?}");
}
