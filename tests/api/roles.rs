use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend};

both!(developer_rules, admin_rules, owner_rules);

async fn developer_rules(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("acme").await;
    let dev = &team.dev.1;
    let p = &team.project;
    let org = &team.org;
    // Reads the organization's projects.
    assert_eq!(
        t.get(&format!("/api/projects/{p}"), dev).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.get(&format!("/api/organizations/{org}/projects"), dev)
            .await
            .status,
        StatusCode::OK
    );
    // Cannot create, change or delete projects, provider keys or members.
    let forbidden = [
        t.post(
            "/api/projects",
            dev,
            json!({"organization_id": org, "name": "x"}),
        )
        .await,
        t.patch(&format!("/api/projects/{p}"), dev, json!({"name": "x"}))
            .await,
        t.delete(&format!("/api/projects/{p}"), dev).await,
        t.post(
            &format!("/api/projects/{p}/provider-keys"),
            dev,
            json!({"provider": "openai", "api_key": "sk-12345678"}),
        )
        .await,
        t.post(
            &format!("/api/organizations/{org}/members"),
            dev,
            json!({"email": "n@x.io", "role": "developer"}),
        )
        .await,
    ];
    for r in forbidden {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(r.body["error"]["type"], "permission_error");
    }
    // Creates keys and manages its own.
    let (own, _) = t.key(p, dev).await;
    assert_eq!(
        t.patch(
            &format!("/api/keys/{own}"),
            dev,
            json!({"description": "mine"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        t.post(&format!("/api/keys/{own}/rotate"), dev, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.put(
            &format!("/api/keys/{own}/iam-rules"),
            dev,
            json!({"rules": []})
        )
        .await
        .status,
        StatusCode::OK
    );
    // Not keys somebody else created.
    let (theirs, _) = t.key(p, &team.admin.1).await;
    assert_eq!(
        t.get(&format!("/api/keys/{theirs}"), dev).await.status,
        StatusCode::OK
    );
    for r in [
        t.patch(
            &format!("/api/keys/{theirs}"),
            dev,
            json!({"status": "disabled"}),
        )
        .await,
        t.post(&format!("/api/keys/{theirs}/rotate"), dev, json!({}))
            .await,
        t.put(
            &format!("/api/keys/{theirs}/iam-rules"),
            dev,
            json!({"rules": []}),
        )
        .await,
        t.delete(&format!("/api/keys/{theirs}"), dev).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    assert_eq!(
        t.delete(&format!("/api/keys/{own}"), dev).await.status,
        StatusCode::NO_CONTENT
    );
}

async fn admin_rules(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("acme").await;
    let admin = &team.admin.1;
    let p = &team.project;
    let org = &team.org;
    assert_eq!(
        t.post(
            "/api/projects",
            admin,
            json!({"organization_id": org, "name": "second"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        t.patch(
            &format!("/api/projects/{p}"),
            admin,
            json!({"mode": "credits"})
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = t
        .post(
            &format!("/api/projects/{p}/provider-keys"),
            admin,
            json!({"provider": "openai", "api_key": "sk-12345678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Any key, also a developer's.
    let (devs, _) = t.key(p, &team.dev.1).await;
    assert_eq!(
        t.patch(
            &format!("/api/keys/{devs}"),
            admin,
            json!({"status": "disabled"})
        )
        .await
        .status,
        StatusCode::OK
    );
    // Members, but not owners.
    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            admin,
            json!({"email": "d2@acme.io", "role": "developer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            admin,
            json!({"email": "o2@acme.io", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let owner_id = &team.owner.0;
    let r = t
        .patch(
            &format!("/api/organizations/{org}/members/{owner_id}"),
            admin,
            json!({"role": "developer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.delete(
            &format!("/api/organizations/{org}/members/{owner_id}"),
            admin
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let dev_id = &team.dev.0;
    let r = t
        .patch(
            &format!("/api/organizations/{org}/members/{dev_id}"),
            admin,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "admins cannot make owners");
    // Deleting projects is the owners'.
    assert_eq!(
        t.delete(&format!("/api/projects/{p}"), admin).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn owner_rules(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("acme").await;
    let owner = &team.owner.1;
    let org = &team.org;
    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            owner,
            json!({"email": "o2@acme.io", "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let admin_id = &team.admin.0;
    let r = t
        .patch(
            &format!("/api/organizations/{org}/members/{admin_id}"),
            owner,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(r.body["role"], "owner");
    assert_eq!(
        t.delete(&format!("/api/projects/{}", team.project), owner)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A removed member's token stops working.
    let dev_id = &team.dev.0;
    assert_eq!(
        t.delete(&format!("/api/organizations/{org}/members/{dev_id}"), owner)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/organizations/{org}"), &team.dev.1)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
