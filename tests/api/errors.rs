use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(error_shapes);

async fn error_shapes(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let url = format!("{}/api/projects", t.base);

    // 401: no token, unknown token.
    let r = t
        .client
        .get(format!("{}/api/organizations/{org}", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    for key in ["message", "type", "param", "code"] {
        assert!(body["error"].get(key).is_some(), "{key} in {body}");
    }
    assert_eq!(
        t.get(&format!("/api/organizations/{org}"), "tgm-wrong")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // 400: malformed JSON carries the parser's reason; wrong types name the field.
    let r = t
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"organization_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("EOF"),
        "{body}"
    );

    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": 5}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "name"));
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "x", "mode": "free-for-all"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "mode"));
    let r = t
        .post("/api/projects", ADMIN, json!({"organization_id": org}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name"),
        "{:?}",
        r.body
    );
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "x", "colour": "red"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // 415: not JSON.
    let r = t
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 413: over the body limit (64 KiB in tests).
    let big = json!({"organization_id": org, "name": "x", "description": "d".repeat(100_000)});
    let r = t.post("/api/projects", ADMIN, big).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    // 404: unknown ids and routes; 405: wrong method.
    assert_eq!(
        t.get("/api/projects/does-not-exist", ADMIN).await.code(),
        "not_found"
    );
    assert_eq!(
        t.get("/api/nothing-here", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.put("/api/projects", ADMIN, json!({})).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // 400 on query strings.
    let r = t.get("/api/audit?limit=lots", ADMIN).await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "limit"));
    let r = t.get("/api/audit?limit=0", ADMIN).await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "limit"));

    // Request ids are echoed (or made).
    let r = t
        .client
        .get(format!("{}/healthz", t.base))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-42");
    let r = t
        .client
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .unwrap();
    assert!(!r.headers()["x-request-id"].is_empty());
    let r = t
        .client
        .get(format!("{}/readyz", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

both!(nul_in_text_is_a_400);

/// JSON can carry NUL (`\u0000`), which neither the event log nor a read model on Postgres
/// can store: it is refused with the field named, on both stores alike, and nothing is written.
async fn nul_in_text_is_a_400(backend: Backend) {
    let t = spawn_app(backend).await;
    let r = t
        .post("/api/organizations", ADMIN, json!({"name": "bad\u{0}name"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["param"], "name", "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_value", "{:?}", r.body);

    let org = t.org("acme").await;
    let project = t.project(&org, ADMIN, "p").await;
    let (key_id, _) = t.key(&project, ADMIN).await;
    let rules = json!({"rules": [{"type": "deny_models", "models": ["ok", "b\u{0}"]}]});
    let r = t
        .put(&format!("/api/keys/{key_id}/iam-rules"), ADMIN, rules)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["param"], "rules[0].models[1]",
        "{:?}",
        r.body
    );
    let audit = t
        .get(
            &format!("/api/audit?organization_id={org}&limit=500"),
            ADMIN,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{:?}", audit.body);
    let text = audit.body.to_string();
    assert!(text.contains("ProjectCreated"), "{text}");
    assert!(!text.contains("IamRulesSet"), "{text}");

    for path in [
        "/api/keys/a%00b".to_string(),
        format!("/api/audit?organization_id={org}%00"),
    ] {
        let r = t.get(&path, ADMIN).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_request", "{:?}", r.body);
    }
}
