//! The official OpenAI Python SDK's Responses API against a real gateway
//! (`tests/python/test_openai_responses.py`): to an OpenAI model and to an Anthropic model,
//! plain, streamed and with a function tool round trip. The OpenAI model's requests pass
//! through to OpenAI's own Responses API (mocked here); the Anthropic model's are translated.

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, body_string_contains};
use wiremock::MockServer;

use crate::anthropic::{mount, sse};
use crate::helpers::Backend;
use crate::upstream::spawn_gateway;

const RESPONSES: &str = "/openai/v1/responses";

fn response(output: Value, usage: Value) -> Value {
    json!({"id": "resp_mock", "object": "response", "created_at": 1, "status": "completed",
           "model": "gpt-4o-mini-2024-07-18", "output": output, "usage": usage})
}

fn text(t: &str) -> Value {
    json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": t, "annotations": []}]})
}

fn usage(input: u64, output: u64) -> Value {
    json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output})
}

/// The Responses event stream of a text in pieces.
fn stream(words: &[&str]) -> String {
    let all: String = words.concat();
    let mut events =
        vec![json!({"type": "response.created", "response": response(json!([]), Value::Null)})];
    for w in words {
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "msg_1",
                           "output_index": 0, "content_index": 0, "delta": w}),
        );
    }
    events.push(json!({"type": "response.completed", "response": response(json!([text(&all)]), usage(7, 3))}));
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e["sequence_number"] = json!(i);
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// OpenAI's Responses API for the script: a call when `get_weather` is offered, a text once
/// its output comes back, a stream when asked, else a text.
async fn responses_upstream(m: &MockServer) {
    let answer = |r: Value| wiremock::ResponseTemplate::new(200).set_body_json(r);
    let sunny = response(json!([text("It is sunny in Paris")]), usage(30, 6));
    let when = body_string_contains("function_call_output");
    mount(m, RESPONSES, 1, Some(when), answer(sunny)).await;
    let call = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                      "arguments": "{\"city\": \"Paris\"}", "status": "completed"});
    let when = body_string_contains("get_weather");
    mount(
        m,
        RESPONSES,
        2,
        Some(when),
        answer(response(json!([call]), usage(20, 8))),
    )
    .await;
    let when = body_partial_json(json!({"stream": true}));
    let words = ["Hello", " from", " the stream"];
    mount(m, RESPONSES, 3, Some(when), sse(stream(&words))).await;
    let hello = response(json!([text("Hello from the mock")]), usage(12, 4));
    let any = None::<wiremock::matchers::MethodExactMatcher>;
    mount(m, RESPONSES, 10, any, answer(hello)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_python_sdk() {
    let python = crate::python();
    let g = spawn_gateway(Backend::Sqlite).await;
    crate::anthropic::upstreams(&g.mock).await;
    responses_upstream(&g.mock).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let script = "tests/python/test_openai_responses.py";
    let (ok, report) = crate::run_script(&python, script, &g.t.base, &tenant.token, &[]).await;
    assert!(ok, "{report}");

    // Every request was metered as a Responses request: eight served, one refused.
    let logs = g.usage_logs(&tenant.project, 9).await;
    assert_eq!(logs.len(), 9, "{logs:#?}");
    assert!(
        logs.iter().all(|l| l["endpoint"] == "responses"),
        "{logs:#?}"
    );
    let refused: Vec<_> = logs.iter().filter(|l| l["status"] != 200).collect();
    assert_eq!(refused.len(), 1, "{logs:#?}");
    assert_eq!(refused[0]["status"], 400);
    // The OpenAI model's went to OpenAI's Responses API, none as a chat completion.
    let passed = g.received(RESPONSES).await.len();
    assert_eq!(passed, 4, "plain, streamed, and the tool round trip's two");
    assert!(g.received("/openai/v1/chat/completions").await.is_empty());
}
