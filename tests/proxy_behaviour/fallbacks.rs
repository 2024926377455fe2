//! Fallbacks and retries: the request's `models` tried in order after a failure a fallback
//! may fix, the same route retried once, and the provider's `Retry-After` waited for.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::Backend;
use crate::upstream::{openai_answer, spawn_gateway, Gateway};
use crate::{both, header, OPENAI};

both!(
    a_failing_model_falls_back_to_the_next,
    retry_after_is_waited_for,
    a_bad_models_list_is_refused
);

pub const ANTHROPIC: &str = "/anthropic/v1/messages";

/// OpenAI answering 503 to every request, Anthropic answering `text`.
pub async fn openai_down_claude_up(g: &Gateway, text: &str) {
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "overloaded"}})),
        )
        .mount(&g.mock)
        .await;
    let claude = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 3}});
    Mock::given(method("POST"))
        .and(path(ANTHROPIC))
        .respond_with(ResponseTemplate::new(200).set_body_json(claude))
        .mount(&g.mock)
        .await;
}

async fn a_failing_model_falls_back_to_the_next(backend: Backend) {
    let g = spawn_gateway(backend).await;
    openai_down_claude_up(&g, "from claude").await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let r = g
        .chat(
            &t.token,
            json!({"models": ["gpt-4o-mini", "claude-sonnet-4-5"], "max_tokens": 20,
                               "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["choices"][0]["message"]["content"], "from claude");
    assert_eq!(header(&r, "x-tollgate-provider"), "anthropic");

    // OpenAI was tried twice (once retried), then Anthropic; `models` reached neither.
    let openai = g.received(OPENAI).await;
    assert_eq!(openai.len(), 2);
    let sent: serde_json::Value =
        serde_json::from_slice(&g.received(ANTHROPIC).await[0].body).unwrap();
    assert!(sent.get("models").is_none(), "{sent}");
    let first: serde_json::Value = serde_json::from_slice(&openai[0].body).unwrap();
    assert!(first.get("models").is_none(), "{first}");

    let logs = g.usage_logs(&t.project, 3).await;
    assert_eq!(logs.len(), 3, "{logs:#?}");
    let mut by_status: Vec<(u64, String)> = logs
        .iter()
        .map(|l| {
            (
                l["status"].as_u64().unwrap(),
                l["provider"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_status.sort();
    assert_eq!(by_status[0], (200, "anthropic".to_string()), "{logs:#?}");
    assert!(
        by_status[1..]
            .iter()
            .all(|(s, p)| *s >= 500 && p == "openai"),
        "{logs:#?}"
    );
}

async fn retry_after_is_waited_for(backend: Backend) {
    let g = spawn_gateway(backend).await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"error": {"message": "slow down", "type": "rate_limit_error"}}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&g.mock)
        .await;
    g.answer("openai", openai_answer("hi", 5, 1)).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let started = Instant::now();
    let r = g
        .chat(
            &t.token,
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(g.received(OPENAI).await.len(), 2, "retried once");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    let logs = g.usage_logs(&t.project, 2).await;
    assert_eq!(logs.len(), 2, "{logs:#?}");
    assert!(logs.iter().any(|l| l["status"] == 429), "{logs:#?}");
}

async fn a_bad_models_list_is_refused(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let r = g
        .chat(
            &t.token,
            json!({"models": [], "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["param"], "models");
    assert!(g.received(OPENAI).await.is_empty());
}
