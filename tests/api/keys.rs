use reqwest::StatusCode;
use serde_json::json;
use tollgate::crypto::token_digest;

use crate::both;
use std::sync::Arc;
use tollgate::proxy::state::KeyEntry;

use crate::helpers::{spawn_app, Backend, TestApp, ADMIN};
use crate::projects::urlencode;

/// The key a token opens at `now` in the proxy's memory (what a request is checked against).
fn usable(t: &TestApp, token: &str, now: i64) -> Option<Arc<KeyEntry>> {
    t.app.proxy.state.key(&token_digest(token), now)
}

both!(
    key_lifecycle,
    rotation_grace,
    iam_rules_round_trip,
    key_as_of,
    archived_project_keys_stop
);

async fn key_lifecycle(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let r = t
        .post(
            &format!("/api/projects/{project}/keys"),
            ADMIN,
            json!({"description": "ci", "usage_limit_usd": 12.5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["key"]["id"].as_str().unwrap().to_string();
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("sk-tg-"));
    assert!(token.starts_with(r.body["key"]["prefix"].as_str().unwrap()));
    assert_eq!(r.body["key"]["usage_limit_usd"], 12.5);
    assert_eq!(r.body["key"]["status"], "active");

    // The token is in no later answer.
    let list = t.get(&format!("/api/projects/{project}/keys"), ADMIN).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let got = t.get(&format!("/api/keys/{id}"), ADMIN).await;
    for body in [&list.body, &got.body] {
        assert!(!body.to_string().contains(&token));
    }
    let now = chrono::Utc::now().timestamp();
    let lookup = usable(&t, &token, now).expect("the new key opens");
    assert_eq!(lookup.key_id, id);
    assert_eq!(lookup.limit_nano_usd, Some(12_500_000_000));

    let r = t
        .patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"description": "prod", "status": "disabled"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["description"].as_str(), r.body["status"].as_str()),
        (Some("prod"), Some("disabled"))
    );
    assert_eq!(r.body["usage_limit_usd"], 12.5, "untouched field kept");
    assert!(usable(&t, &token, now).is_none(), "disabled key is refused");

    let r = t
        .patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"usage_limit_usd": null}),
        )
        .await;
    assert_eq!(r.body["usage_limit_usd"], serde_json::Value::Null);
    let r = t
        .patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"usage_limit_usd": -1}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, "usage_limit_usd")
    );
    let r = t
        .patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "status"));

    assert_eq!(
        t.delete(&format!("/api/keys/{id}"), ADMIN).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/keys/{id}"), ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"description": "x"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(usable(&t, &token, chrono::Utc::now().timestamp()).is_none());
    let list = t.get(&format!("/api/projects/{project}/keys"), ADMIN).await;
    assert!(list.body.as_array().unwrap().is_empty());
}

async fn rotation_grace(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let (id, first) = t.key(&project, ADMIN).await;

    let r = t
        .post(
            &format!("/api/keys/{id}/rotate"),
            ADMIN,
            json!({"grace_seconds": 120}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let second = r.body["token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert!(second.starts_with(r.body["key"]["prefix"].as_str().unwrap()));
    let now = chrono::Utc::now().timestamp();
    assert!(
        usable(&t, &first, now).is_some(),
        "old token works during the grace period"
    );
    assert!(
        usable(&t, &first, now + 121).is_none(),
        "and stops after it"
    );
    assert!(usable(&t, &second, now + 10_000).is_some(), "no end");

    // Rotation without a body: the previous token stops at once; the first keeps its grace.
    let r = t
        .client
        .post(format!("{}/api/keys/{id}/rotate", t.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let third = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(usable(&t, &second, now).is_none());
    assert!(usable(&t, &first, now).is_some());
    assert!(usable(&t, &third, now).is_some());

    let r = t
        .post(
            &format!("/api/keys/{id}/rotate"),
            ADMIN,
            json!({"grace_seconds": 99_999_999}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, "grace_seconds")
    );
}

async fn iam_rules_round_trip(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let (id, token) = t.key(&project, ADMIN).await;
    let rules = json!({"rules": [
        {"type": "allow_models", "models": ["openai/gpt-4o", "anthropic/claude-sonnet-4"]},
        {"type": "deny_models", "models": ["openai/o1"]},
        {"type": "allow_providers", "providers": ["openai", "anthropic"]},
        {"type": "deny_providers", "providers": ["xai"]},
        {"type": "allow_pricing", "pricing_type": "paid", "max_input_usd_per_mtok": 5.0, "max_output_usd_per_mtok": 15.0},
        {"type": "deny_pricing", "pricing_type": "free"}
    ]});
    let r = t
        .put(&format!("/api/keys/{id}/iam-rules"), ADMIN, rules.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, rules);
    assert_eq!(
        t.get(&format!("/api/keys/{id}/iam-rules"), ADMIN)
            .await
            .body,
        rules
    );
    let lookup = usable(&t, &token, chrono::Utc::now().timestamp()).unwrap();
    assert_eq!(lookup.rules.len(), 6);

    for bad in [
        json!({"rules": [{"type": "allow_models", "models": []}]}),
        json!({"rules": [{"type": "allow_pricing", "pricing_type": "paid", "max_input_usd_per_mtok": -2}]}),
    ] {
        let r = t
            .put(&format!("/api/keys/{id}/iam-rules"), ADMIN, bad)
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, "rules"),
            "{:?}",
            r.body
        );
    }
    let r = t
        .put(
            &format!("/api/keys/{id}/iam-rules"),
            ADMIN,
            json!({"rules": [{"type": "allow_everything"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.param().starts_with("rules"), "{:?}", r.body);
    // Replacing with an empty list clears them.
    let r = t
        .put(
            &format!("/api/keys/{id}/iam-rules"),
            ADMIN,
            json!({"rules": []}),
        )
        .await;
    assert_eq!(r.body, json!({"rules": []}));
}

async fn key_as_of(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let (id, _) = t.key(&project, ADMIN).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    t.patch(
        &format!("/api/keys/{id}"),
        ADMIN,
        json!({"status": "disabled", "usage_limit_usd": 3}),
    )
    .await;
    let then = t
        .get(
            &format!("/api/keys/{id}?as_of={}", urlencode(&between)),
            ADMIN,
        )
        .await;
    assert_eq!(then.status, StatusCode::OK, "{:?}", then.body);
    assert_eq!(then.body["status"], "active");
    assert_eq!(then.body["usage_limit_usd"], serde_json::Value::Null);
    let now = t.get(&format!("/api/keys/{id}"), ADMIN).await;
    assert_eq!(now.body["status"], "disabled");
    assert_eq!(now.body["usage_limit_usd"], 3.0);
}

async fn archived_project_keys_stop(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let (id, token) = t.key(&project, ADMIN).await;
    t.delete(&format!("/api/projects/{project}"), ADMIN).await;
    assert!(usable(&t, &token, chrono::Utc::now().timestamp()).is_none());
    assert_eq!(
        t.get(&format!("/api/keys/{id}"), ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    let r = t
        .post(&format!("/api/projects/{project}/keys"), ADMIN, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
