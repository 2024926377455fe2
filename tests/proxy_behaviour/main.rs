#![allow(dead_code)]
//! End-to-end proxy behaviour through a real gateway, each test on SQLite and on Postgres:
//! the response cache, every proxy error code, mid-stream errors and client disconnects.

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/upstream.rs"]
mod upstream;

mod cache;
mod cache_control;
mod disconnect;
mod errors;
mod fallbacks;
mod odd_text;
mod pacing;
mod passthrough;
mod project_fallbacks;
mod refusals;
mod request_ids;
mod slow_clients;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use helpers::ADMIN;
use upstream::{Answer, Gateway};

pub const OPENAI: &str = "/openai/v1/chat/completions";

/// Turns the project's response cache on (or off) with the given duration.
pub async fn set_caching(g: &Gateway, project: &str, enabled: bool, seconds: u64) {
    let r =
        g.t.patch(
            &format!("/api/projects/{project}"),
            ADMIN,
            json!({"caching_enabled": enabled, "cache_duration_seconds": seconds}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Mounts an SSE body as the OpenAI chat answer.
pub async fn answer_sse(g: &Gateway, body: String) {
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&g.mock)
        .await;
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The content deltas of an SSE body, concatenated.
pub fn sse_content(text: &str) -> String {
    sse_data(text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["delta"]["content"].as_str().map(str::to_string))
        .collect()
}

pub fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A request with a raw body and headers of the caller's choice.
pub async fn raw_chat(
    g: &Gateway,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut req =
        g.t.client
            .post(format!("{}/v1/chat/completions", g.t.base))
            .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}
