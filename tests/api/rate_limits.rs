//! Rate limits per key and per project: requests and tokens per calendar minute, 429
//! `rate_limit_exceeded` with `Retry-After`, and OpenAI's `x-ratelimit-*` headers.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::proxy::pricing;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway, Answer, Gateway};

both!(
    requests_per_minute_hold_and_renew,
    tokens_per_minute_count_what_was_used,
    a_project_rate_limit_is_shared_by_its_keys
);

/// Moves the proxy's clock to the start of a minute, so that a test's requests fall in one.
fn fresh_minute(g: &Gateway) {
    let clock = &g.t.app.proxy.state.clock;
    clock.advance(60 - clock.now().rem_euclid(60));
}

async fn project(g: &Gateway, extra: Value) -> String {
    let org = g.t.org("rates").await;
    let credits = json!({"amount_usd": 10, "reference": "t"});
    g.t.post(&format!("/api/organizations/{org}/credits"), ADMIN, credits)
        .await;
    let mut body = json!({"organization_id": org, "name": "p", "mode": "credits"});
    if let (Some(b), Some(o)) = (extra.as_object(), body.as_object_mut()) {
        o.extend(b.clone());
    }
    let r = g.t.post("/api/projects", ADMIN, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn key(g: &Gateway, project: &str, body: Value) -> String {
    let r =
        g.t.post(&format!("/api/projects/{project}/keys"), ADMIN, body)
            .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

fn header(a: &Answer, name: &str) -> String {
    a.headers[name].to_str().unwrap().to_string()
}

async fn requests_per_minute_hold_and_renew(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 1, 1)).await;
    let p = project(&g, json!({})).await;
    let limits = json!({"rate_limits": {"requests_per_minute": 3}});
    let token = key(&g, &p, limits).await;
    fresh_minute(&g);
    for left in [2, 1, 0] {
        let ok = g.chat(&token, ask("gpt-4o-mini")).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(header(&ok, "x-ratelimit-limit-requests"), "3");
        assert_eq!(
            header(&ok, "x-ratelimit-remaining-requests"),
            left.to_string()
        );
        assert!(header(&ok, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let refused = g.chat(&token, ask("gpt-4o-mini")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "rate_limit_exceeded");
    assert_eq!(refused.body["error"]["type"], "requests");
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");

    g.t.app.proxy.state.clock.advance(60);
    assert_eq!(
        g.chat(&token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
}

async fn tokens_per_minute_count_what_was_used(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let mut body = ask("gpt-4o-mini");
    body["max_tokens"] = json!(10);
    let tokens = pricing::prompt_bound(&body) + 10;
    // Each answer uses exactly what its request reserved.
    g.answer("openai", openai_answer("ok", tokens - 10, 10))
        .await;
    let p = project(&g, json!({})).await;
    let tpm = tokens * 5 / 2;
    let token = key(&g, &p, json!({"rate_limits": {"tokens_per_minute": tpm}})).await;
    fresh_minute(&g);
    for _ in 0..2 {
        let ok = g.chat(&token, body.clone()).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(header(&ok, "x-ratelimit-limit-tokens"), tpm.to_string());
    }
    let refused = g.chat(&token, body.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body["error"]["type"], "tokens");
    assert!(refused.headers.contains_key("retry-after"));
}

async fn a_project_rate_limit_is_shared_by_its_keys(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 1, 1)).await;
    let p = project(&g, json!({"rate_limits": {"requests_per_minute": 2}})).await;
    let first = key(&g, &p, json!({})).await;
    let second = key(&g, &p, json!({})).await;
    fresh_minute(&g);
    assert_eq!(
        g.chat(&first, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    let ok = g.chat(&second, ask("gpt-4o-mini")).await;
    assert_eq!(ok.status, StatusCode::OK);
    // The project's limit is what its keys' answers report.
    assert_eq!(header(&ok, "x-ratelimit-limit-requests"), "2");
    for token in [&first, &second] {
        let refused = g.chat(token, ask("gpt-4o-mini")).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("this project's rate limit"), "{message}");
    }
    // Cleared by PATCH: no limit, no headers.
    let r =
        g.t.patch(
            &format!("/api/projects/{p}"),
            ADMIN,
            json!({"rate_limits": null}),
        )
        .await;
    assert_eq!(r.body["rate_limits"], json!(null), "{:?}", r.body);
    let ok = g.chat(&first, ask("gpt-4o-mini")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(!ok.headers.contains_key("x-ratelimit-limit-requests"));
}
