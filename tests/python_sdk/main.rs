#![allow(dead_code)]
//! The official OpenAI Python SDK against a real gateway: chat, streaming, tools, models and
//! errors (`tests/python/test_openai_sdk.py`), with OpenAI mocked by wiremock. The SDK comes
//! from the venv that `scripts/test.sh` prepares (or the python named by `TOLLGATE_TEST_PYTHON`).

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/upstream.rs"]
mod upstream;

mod anthropic;
mod dashboard;
mod responses;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use helpers::Backend;
use upstream::{openai_answer, openai_stream, spawn_gateway};

const OPENAI: &str = "/openai/v1/chat/completions";

/// The python that has the `openai` package.
fn python() -> PathBuf {
    let python = std::env::var_os("TOLLGATE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} does not exist: run scripts/test.sh once (it creates the .venv with the openai \
         package), or point TOLLGATE_TEST_PYTHON at a python that has it",
        python.display()
    );
    python
}

/// Runs a test script of `tests/python` against the gateway at `base` with `key`: whether it
/// passed, and what it printed.
async fn run_script(
    python: &std::path::Path,
    script: &str,
    base: &str,
    key: &str,
    env: &[(&str, &str)],
) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script);
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .env("TOLLGATE_BASE_URL", base)
        .env("TOLLGATE_KEY", key)
        .envs(env.iter().copied())
        .env("PYTHONUNBUFFERED", "1")
        // The gateway is on loopback: never through a proxy from the environment.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the SDK script finished within 120 s")
        .unwrap_or_else(|e| panic!("{} could not be run: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    let report = format!(
        "{} {} ({}):\n{stdout}\n{stderr}",
        python.display(),
        script.display(),
        out.status
    );
    (out.status.success(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk() {
    let python = python();
    let g = spawn_gateway(Backend::Sqlite).await;

    // The answers the script expects (its constants mirror these).
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(openai_stream(&["Hello", " from", " the stream"], 7, 3)),
        )
        .with_priority(1)
        .mount(&g.mock)
        .await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .and(body_partial_json(
            json!({"tools": [{"type": "function", "function": {"name": "get_weather"}}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-tool",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_weather_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}
                    }]
                },
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}
        })))
        .with_priority(1)
        .mount(&g.mock)
        .await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer(
            "Hello from the mock",
            12,
            4,
        )))
        .with_priority(10)
        .mount(&g.mock)
        .await;

    let tenant = g.tenant("credits", 5.0, &[], None).await;
    // A $0.00002 limit: any request without a small `max_tokens` may cost more.
    let limited = g.tenant("credits", 5.0, &[], Some(0.00002)).await;
    let extra = [("TOLLGATE_LIMITED_KEY", limited.token.as_str())];
    let script = "tests/python/test_openai_sdk.py";
    let (ok, report) = run_script(&python, script, &g.t.base, &tenant.token, &extra).await;
    assert!(ok, "{report}");

    // The refusal past the limit was sent once: the SDK did not retry it (each attempt is a
    // usage record; the script has ended, so any retry was already made).
    g.usage_logs(&limited.project, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(g.usage_logs(&limited.project, 1).await.len(), 1);

    // The SDK's requests reached OpenAI as sent: one plain, one streamed, one with tools
    // (the unknown model and the wrong key never leave the gateway).
    let sent: Vec<serde_json::Value> = g
        .received(OPENAI)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON request"))
        .collect();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(
        sent.iter().all(|b| b["model"] == "gpt-4o-mini"),
        "{sent:#?}"
    );
    assert_eq!(
        sent.iter().filter(|b| b["stream"] == true).count(),
        1,
        "{sent:#?}"
    );
    assert_eq!(
        sent.iter()
            .filter(|b| b["tools"][0]["function"]["name"] == "get_weather")
            .count(),
        1,
        "{sent:#?}"
    );
}
