//! Key expiry: `expires_at` at creation and by `PATCH`; after it, 401 `key_expired`.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway};

both!(
    an_expired_key_is_refused_with_its_own_code,
    expiry_must_be_a_future_rfc3339_time_at_creation
);

fn rfc3339(secs_from_now: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs_from_now))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn an_expired_key_is_refused_with_its_own_code(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 1, 1)).await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let key = format!("/api/keys/{}", tenant.key_id);

    let later = rfc3339(3600);
    let r = g.t.patch(&key, ADMIN, json!({"expires_at": later})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["expires_at"], later.replace('Z', ".000000Z"));
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );

    // A past time stops the key at once.
    let r =
        g.t.patch(&key, ADMIN, json!({"expires_at": rfc3339(-1)}))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let refused = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "key_expired");
    assert_eq!(refused.body["error"]["type"], "authentication_error");
    // An unknown key keeps its own code.
    let unknown = g.chat("sk-tg-unknown", ask("gpt-4o-mini")).await;
    assert_eq!(unknown.code(), "invalid_api_key");

    // Cleared: the key works again; the history shows each change.
    let r = g.t.patch(&key, ADMIN, json!({"expires_at": null})).await;
    assert_eq!(r.body["expires_at"], json!(null));
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    let audit = format!(
        "/api/audit?aggregate_id={}&event_type=KeyExpirySet",
        tenant.key_id
    );
    let audit = g.t.get(&audit, ADMIN).await;
    let events = audit.body["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 3, "{:?}", audit.body);
}

async fn expiry_must_be_a_future_rfc3339_time_at_creation(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let keys = format!("/api/projects/{}/keys", tenant.project);
    for bad in [json!("tomorrow"), json!(rfc3339(-60)), json!(5)] {
        let r = g.t.post(&keys, ADMIN, json!({"expires_at": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
        assert_eq!(r.body["error"]["param"], "expires_at", "{bad}");
    }
    let at = rfc3339(600);
    let r = g.t.post(&keys, ADMIN, json!({"expires_at": at})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["key"]["expires_at"], at.replace('Z', ".000000Z"));
    let id = r.body["key"]["id"].as_str().unwrap();
    let got = g.t.get(&format!("/api/keys/{id}"), ADMIN).await;
    assert_eq!(got.body["expires_at"], at.replace('Z', ".000000Z"));
}
