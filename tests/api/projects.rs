use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(
    create_read_update_delete,
    name_bounds,
    cache_duration_bounds,
    eleventh_project_is_refused,
    as_of_shows_the_past
);

async fn create_read_update_delete(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "Main", "description": "d", "mode": "credits",
                   "caching_enabled": true, "cache_duration_seconds": 300}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.id();
    assert_eq!(r.body["mode"], "credits");
    assert_eq!(r.body["caching_enabled"], true);
    assert_eq!(r.body["cache_duration_seconds"], 300);

    let defaults = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "Other"}),
        )
        .await;
    assert_eq!(defaults.body["mode"], "hybrid");
    assert_eq!(defaults.body["caching_enabled"], false);
    assert_eq!(defaults.body["cache_duration_seconds"], 60);

    let r = t
        .patch(
            &format!("/api/projects/{id}"),
            ADMIN,
            json!({"name": "Renamed", "mode": "api-keys", "caching_enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "Renamed");
    assert_eq!(r.body["mode"], "api-keys");
    assert_eq!(r.body["cache_duration_seconds"], 300);

    let got = t.get(&format!("/api/projects/{id}"), ADMIN).await;
    assert_eq!(got.body["name"], "Renamed");
    let list = t
        .get(&format!("/api/organizations/{org}/projects"), ADMIN)
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    let org_view = t.get(&format!("/api/organizations/{org}"), ADMIN).await;
    assert_eq!(org_view.body["project_count"], 2);

    assert_eq!(
        t.delete(&format!("/api/projects/{id}"), ADMIN).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/projects/{id}"), ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.delete(&format!("/api/projects/{id}"), ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    let list = t
        .get(&format!("/api/organizations/{org}/projects"), ADMIN)
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let org_view = t.get(&format!("/api/organizations/{org}"), ADMIN).await;
    assert_eq!(org_view.body["project_count"], 1);
}

async fn name_bounds(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    for (name, ok) in [
        ("", false),
        ("   ", false),
        (&*"n".repeat(255), true),
        (&*"n".repeat(256), false),
        ("x", true),
    ] {
        let r = t
            .post(
                "/api/projects",
                ADMIN,
                json!({"organization_id": org, "name": name}),
            )
            .await;
        if ok {
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{} chars: {:?}",
                name.len(),
                r.body
            );
        } else {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{} chars", name.len());
            assert_eq!(r.param(), "name");
        }
    }
    let id = t.project(&org, ADMIN, "p").await;
    let r = t
        .patch(
            &format!("/api/projects/{id}"),
            ADMIN,
            json!({"name": "n".repeat(256)}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "name"));
}

async fn cache_duration_bounds(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    for (seconds, ok) in [
        (9, false),
        (10, true),
        (31_536_000, true),
        (31_536_001, false),
    ] {
        let body = json!({"organization_id": org, "name": "p", "cache_duration_seconds": seconds});
        let r = t.post("/api/projects", ADMIN, body).await;
        assert_eq!(
            r.status == StatusCode::CREATED,
            ok,
            "{seconds}: {:?}",
            r.body
        );
        if !ok {
            assert_eq!(r.param(), "cache_duration_seconds");
        }
    }
    let id = t.project(&org, ADMIN, "q").await;
    for (seconds, status) in [
        (9, 400),
        (10, 200),
        (31_536_000, 200),
        (31_536_001, 400),
        (-1, 400),
    ] {
        let r = t
            .patch(
                &format!("/api/projects/{id}"),
                ADMIN,
                json!({"cache_duration_seconds": seconds}),
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "{seconds}: {:?}", r.body);
        if status == 400 {
            assert_eq!(r.param(), "cache_duration_seconds");
        }
    }
}

async fn eleventh_project_is_refused(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(t.project(&org, ADMIN, &format!("p{i}")).await);
    }
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "p10"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "project_limit_reached");
    // A deleted project no longer counts.
    assert_eq!(
        t.delete(&format!("/api/projects/{}", ids[0]), ADMIN)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    t.project(&org, ADMIN, "p10").await;
    // The limit is configurable per organization, by the gateway admin.
    let r = t
        .patch(
            &format!("/api/organizations/{org}"),
            ADMIN,
            json!({"project_limit": 11}),
        )
        .await;
    assert_eq!(r.body["project_limit"], 11);
    t.project(&org, ADMIN, "p11").await;
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": "p12"}),
        )
        .await;
    assert_eq!(r.code(), "project_limit_reached");
    let small = t
        .post(
            "/api/organizations",
            ADMIN,
            json!({"name": "small", "project_limit": 1}),
        )
        .await;
    let small = small.id();
    t.project(&small, ADMIN, "only").await;
    let r = t
        .post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": small, "name": "two"}),
        )
        .await;
    assert_eq!(r.code(), "project_limit_reached");
}

async fn as_of_shows_the_past(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let id = t.project(&org, ADMIN, "First").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    t.patch(
        &format!("/api/projects/{id}"),
        ADMIN,
        json!({"name": "Second", "mode": "credits"}),
    )
    .await;

    let then = t
        .get(
            &format!("/api/projects/{id}?as_of={}", urlencode(&between)),
            ADMIN,
        )
        .await;
    assert_eq!(then.status, StatusCode::OK, "{:?}", then.body);
    assert_eq!(then.body["name"], "First");
    assert_eq!(then.body["mode"], "hybrid");
    let now = t.get(&format!("/api/projects/{id}"), ADMIN).await;
    assert_eq!(now.body["name"], "Second");

    let before = "2000-01-01T00:00:00Z";
    let r = t
        .get(&format!("/api/projects/{id}?as_of={before}"), ADMIN)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .get(&format!("/api/projects/{id}?as_of=yesterday"), ADMIN)
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "as_of"));

    // A deleted project is still visible as it was before deletion.
    t.delete(&format!("/api/projects/{id}"), ADMIN).await;
    let then = t
        .get(
            &format!("/api/projects/{id}?as_of={}", urlencode(&between)),
            ADMIN,
        )
        .await;
    assert_eq!(then.body["name"], "First");
}

pub fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
