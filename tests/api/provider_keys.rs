use reqwest::StatusCode;
use serde_json::json;
use tollgate_projections::read::provider_keys_of;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(provider_key_lifecycle);

async fn provider_key_lifecycle(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "main").await;
    let path = format!("/api/projects/{project}/provider-keys");
    let secret = "sk-proj-VERYSECRET-abcd1234";
    let r = t
        .post(
            &path,
            ADMIN,
            json!({"provider": "openai", "api_key": secret, "name": "primary"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["masked_key"], "…1234");
    assert!(!r.body.to_string().contains("VERYSECRET"));
    let first = r.id();
    // Several keys for one provider; custom needs a base URL.
    let r = t
        .post(
            &path,
            ADMIN,
            json!({"provider": "openai", "api_key": "sk-second-key-9999"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = t.post(&path, ADMIN, json!({"provider": "custom", "api_key": "custom-key-0000", "base_url": "http://127.0.0.1:9/v1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    for (body, param) in [
        (
            json!({"provider": "custom", "api_key": "custom-key-0000"}),
            "base_url",
        ),
        (
            json!({"provider": "nope", "api_key": "sk-abcdefgh"}),
            "provider",
        ),
        (json!({"provider": "openai", "api_key": "short"}), "api_key"),
        (
            json!({"provider": "openai", "api_key": "sk-abcdefgh", "base_url": "file:///etc"}),
            "base_url",
        ),
    ] {
        let r = t.post(&path, ADMIN, body).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, param),
            "{:?}",
            r.body
        );
    }

    let list = t.get(&path, ADMIN).await;
    assert_eq!(list.body.as_array().unwrap().len(), 3);
    assert!(!list.body.to_string().contains("VERYSECRET"));

    // Stored encrypted: the read model holds ciphertext that decrypts to the key.
    let rows = provider_keys_of(&t.app.db, &project).await.unwrap();
    let row = rows.iter().find(|r| r.id == first).unwrap();
    assert!(!row.encrypted_key.contains("VERYSECRET"));
    assert_eq!(t.app.cipher.decrypt(&row.encrypted_key).unwrap(), secret);

    let r = t
        .patch(
            &format!("/api/provider-keys/{first}"),
            ADMIN,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("disabled"))
    );
    let r = t
        .patch(
            &format!("/api/provider-keys/{first}"),
            ADMIN,
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(
        t.delete(&format!("/api/provider-keys/{first}"), ADMIN)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.delete(&format!("/api/provider-keys/{first}"), ADMIN)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.get(&path, ADMIN).await.body.as_array().unwrap().len(), 2);
}
