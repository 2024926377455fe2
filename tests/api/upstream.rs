//! Proxy test harness: a real gateway whose providers all point at one wiremock server on
//! loopback, tenants with a mode, credits and provider keys, and OpenAI-shaped mock answers.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::config::ProviderConfig;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{fresh_database, spawn_with, test_config, Backend, TestApp, ADMIN};

pub const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "mistral",
    "groq",
    "deepseek",
    "xai",
    "together",
    "openrouter",
];

/// The path prefix of a provider on the mock server, as its base URL ends.
pub fn base_path(provider: &str) -> String {
    match provider {
        "anthropic" | "google" => format!("/{provider}"),
        p => format!("/{p}/v1"),
    }
}

pub struct Gateway {
    pub t: TestApp,
    pub mock: MockServer,
}

pub async fn spawn_gateway(backend: Backend) -> Gateway {
    spawn_gateway_with(backend, |_| {}).await
}

pub async fn spawn_gateway_with(
    backend: Backend,
    tweak: impl FnOnce(&mut tollgate::config::Config),
) -> Gateway {
    let mock = MockServer::start().await;
    let (url, dir) = fresh_database(backend).await;
    let mut config = test_config(&url);
    for p in PROVIDERS {
        config.providers.insert(
            tollgate_aggregates::Provider::parse(p).expect("a known provider"),
            ProviderConfig {
                api_key: Some(format!("gw-{p}").into()),
                base_url: Some(format!("{}{}", mock.uri(), base_path(p))),
            },
        );
    }
    config.proxy.upstream_timeout_secs = 5;
    config.usage.flush_ms = 20;
    tweak(&mut config);
    Gateway {
        t: spawn_with(config, dir).await,
        mock,
    }
}

pub struct Tenant {
    pub org: String,
    pub project: String,
    pub key_id: String,
    pub token: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// An OpenAI chat answer with fixed usage.
pub fn openai_answer(content: &str, prompt: u64, completion: u64) -> Value {
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": "mock",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    })
}

/// An OpenAI SSE stream: the words as chunks, a usage chunk, `[DONE]`.
pub fn openai_stream(words: &[&str], prompt: u64, completion: u64) -> String {
    let mut out = String::new();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "mock",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    out += &format!(
        "data: {}\n\n",
        chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    );
    for w in words {
        out += &format!("data: {}\n\n", chunk(json!({"content": w}), Value::Null));
    }
    out += &format!("data: {}\n\n", chunk(json!({}), json!("stop")));
    out += &format!(
        "data: {}\n\n",
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "mock", "choices": [],
               "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
    );
    out + "data: [DONE]\n\n"
}

impl Gateway {
    /// Mounts an OpenAI-compatible chat answer for `provider`.
    pub async fn answer(&self, provider: &str, body: Value) {
        Mock::given(method("POST"))
            .and(path(format!("{}/chat/completions", base_path(provider))))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.mock)
            .await;
    }

    /// Mounts an OpenAI-compatible SSE answer for `provider`, served to streaming requests
    /// (ahead of any plain answer mounted with `answer`).
    pub async fn answer_stream(&self, provider: &str, sse: String) {
        Mock::given(method("POST"))
            .and(path(format!("{}/chat/completions", base_path(provider))))
            .and(wiremock::matchers::body_partial_json(
                json!({"stream": true}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/event-stream")
                    .set_body_string(sse),
            )
            .with_priority(1)
            .mount(&self.mock)
            .await;
    }

    /// An organization with `credits_usd`, a project in `mode` with the given own provider
    /// keys, and an API key (with an optional limit).
    pub async fn tenant(
        &self,
        mode: &str,
        credits_usd: f64,
        own_keys: &[(&str, &str)],
        limit_usd: Option<f64>,
    ) -> Tenant {
        let t = &self.t;
        let org = t.org("tenant").await;
        if credits_usd > 0.0 {
            let r = t
                .post(
                    &format!("/api/organizations/{org}/credits"),
                    ADMIN,
                    json!({"amount_usd": credits_usd, "reference": "test"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let r = t
            .post(
                "/api/projects",
                ADMIN,
                json!({"organization_id": org, "name": "p", "mode": mode}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let project = r.id();
        for (provider, key) in own_keys {
            let r = t
                .post(
                    &format!("/api/projects/{project}/provider-keys"),
                    ADMIN,
                    json!({"provider": provider, "api_key": key}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let r = t
            .post(
                &format!("/api/projects/{project}/keys"),
                ADMIN,
                json!({"usage_limit_usd": limit_usd}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        Tenant {
            org,
            project,
            key_id: r.body["key"]["id"].as_str().unwrap().to_string(),
            token: r.body["token"].as_str().unwrap().to_string(),
        }
    }

    pub async fn post_v1(&self, path: &str, token: &str, body: Value) -> Answer {
        self.post_v1_with(path, token, body, &[]).await
    }

    /// `post_v1` with more request headers.
    pub async fn post_v1_with(
        &self,
        path: &str,
        token: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .t
            .client
            .post(format!("{}{path}", self.t.base))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.json(&body).send().await.expect("request sent");
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

    pub async fn chat(&self, token: &str, body: Value) -> Answer {
        self.post_v1("/v1/chat/completions", token, body).await
    }

    /// The requests the mock received on `path_suffix` (e.g. "/openai/v1/chat/completions").
    pub async fn received(&self, path_suffix: &str) -> Vec<wiremock::Request> {
        self.mock
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == path_suffix)
            .collect()
    }

    /// Waits until the project's usage log holds `n` records (the batch writer is async).
    pub async fn usage_logs(&self, project: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let r = self
                .t
                .get(
                    &format!("/api/projects/{project}/usage-logs?limit=500"),
                    ADMIN,
                )
                .await;
            let logs = r.body["logs"].as_array().cloned().unwrap_or_default();
            if logs.len() >= n {
                return logs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("usage logs of {project} never reached {n}");
    }
}

/// A minimal chat request.
pub fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hi"}]})
}

/// Usage records in the event log (each `UsageRecorded` event holds a batch of them).
pub async fn usage_records(app: &tollgate::app::AppState) -> i64 {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT CAST(payload AS TEXT) AS p FROM events WHERE aggregate_type = 'Usage'")
            .fetch_all(&app.db.any)
            .await
            .unwrap();
    rows.iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.get::<String, _>("p")).unwrap();
            v["UsageRecorded"]["records"].as_array().unwrap().len() as i64
        })
        .sum()
}
