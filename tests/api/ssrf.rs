//! A tenant's provider `base_url` cannot reach the gateway's own networks: refused when it
//! is set (400 naming `base_url`), and again when a connection is opened, unless the
//! operator allowed the network (`allowed_upstream_networks`).

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::both;
use crate::helpers::{spawn_with, test_config, Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway_with, Gateway};

both!(
    internal_base_urls_are_refused,
    an_allowed_network_is_reachable,
    the_address_is_checked_again_when_connecting,
);

const INTERNAL: &[&str] = &[
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/v1",
    "http://172.16.0.1/v1",
    "http://192.168.1.1/v1",
    "http://[::1]:6379/",
    "http://[fd00::1]/v1",
    "http://0.0.0.0:8080/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://2130706433/v1",
    "http://127.1/v1",
    "http://localhost:8080/v1",
];

/// A project in `api-keys` mode and an API key on it.
async fn project(g: &Gateway) -> (String, String) {
    let t = &g.t;
    let org = t.org("ssrf").await;
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "p", "mode": "api-keys"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let project = r.id();
    let r = t
        .post(&format!("/api/projects/{project}/keys"), ADMIN, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (project, r.body["token"].as_str().unwrap().to_string())
}

async fn add_key(g: &Gateway, project: &str, base_url: &str) -> crate::helpers::Resp {
    g.t.post(
        &format!("/api/projects/{project}/provider-keys"),
        ADMIN,
        json!({"provider": "openai", "api_key": "sk-tenant-own-key", "base_url": base_url}),
    )
    .await
}

async fn internal_base_urls_are_refused(backend: Backend) {
    let g = spawn_gateway_with(backend, |c| c.proxy.allowed_upstream_networks.clear()).await;
    let (project, _) = project(&g).await;
    for url in INTERNAL {
        let r = add_key(&g, &project, url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {:?}", r.body);
        assert_eq!(r.param(), "base_url", "{url}");
    }
    for url in ["ftp://example.com/", "http://user:pw@8.8.8.8/v1"] {
        let r = add_key(&g, &project, url).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {:?}", r.body);
        assert_eq!(r.param(), "base_url", "{url}");
    }
    let keys =
        g.t.get(&format!("/api/projects/{project}/provider-keys"), ADMIN)
            .await;
    assert_eq!(
        keys.body.as_array().map(Vec::len),
        Some(0),
        "nothing stored"
    );
}

async fn an_allowed_network_is_reachable(backend: Backend) {
    // The test configuration allows loopback, where the mock listens.
    let g = spawn_gateway_with(backend, |_| {}).await;
    g.answer("openai", openai_answer("from the tenant's host", 3, 2))
        .await;
    let (project, token) = project(&g).await;
    let port = g.mock.address().port();
    let r = add_key(&g, &project, &format!("http://localhost:{port}/openai/v1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let a = g.chat(&token, ask("openai/gpt-4o-mini")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.text.contains("from the tenant's host"));
    // Still refused outside the allowed networks.
    let r = add_key(&g, &project, "http://10.0.0.1/v1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
}

async fn the_address_is_checked_again_when_connecting(backend: Backend) {
    // Set while loopback was allowed; then the gateway runs without the allowance (the
    // same happens when a name starts resolving to an internal address).
    let g = spawn_gateway_with(backend, |_| {}).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("internal service secret"))
        .mount(&g.mock)
        .await;
    let (project, token) = project(&g).await;
    let port = g.mock.address().port();
    let r = add_key(&g, &project, &format!("http://localhost:{port}/openai/v1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let mut config = test_config(&g.t.database_url);
    config.proxy.allowed_upstream_networks.clear();
    let strict = spawn_with(config, None).await;
    let post = |path: &'static str, body: serde_json::Value| {
        strict
            .client
            .post(format!("{}{path}", strict.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let chat = post("/v1/chat/completions", ask("openai/gpt-4o-mini"))
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = chat.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_address_blocked", "{body}");
    let embed = post(
        "/v1/embeddings",
        json!({"model": "openai/text-embedding-3-small", "input": "hi"}),
    )
    .await
    .unwrap();
    let status = embed.status();
    let text = embed.text().await.unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
    assert!(text.contains("upstream_address_blocked"), "{text}");
    assert!(!text.contains("internal service secret"), "{text}");
    let sent = g.mock.received_requests().await.unwrap_or_default();
    assert!(
        sent.is_empty(),
        "nothing reached the blocked address: {} requests",
        sent.len()
    );
}
