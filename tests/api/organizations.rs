use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(members_and_roles, credits, organization_validation);

async fn members_and_roles(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let (owner_id, owner) = t.member(&org, "owner@acme.io", "owner").await;
    // Member tokens work for reads of their organization.
    let r = t.get(&format!("/api/organizations/{org}"), &owner).await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (StatusCode::OK, Some("acme"))
    );

    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            &owner,
            json!({"email": "Dev@Acme.io", "role": "developer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["member"]["email"], "dev@acme.io");
    assert!(r.body["token"].as_str().unwrap().starts_with("tgm-"));
    let dev_id = r.body["member"]["id"].as_str().unwrap().to_string();

    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            &owner,
            json!({"email": "dev@acme.io", "role": "admin"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "member_exists")
    );
    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            &owner,
            json!({"email": "x@acme.io", "role": "king"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "role"));
    let r = t
        .post(
            &format!("/api/organizations/{org}/members"),
            &owner,
            json!({"email": "nope", "role": "admin"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "email"));

    let members = t
        .get(&format!("/api/organizations/{org}/members"), &owner)
        .await;
    assert_eq!(members.body.as_array().unwrap().len(), 2);
    assert!(
        !members.body.to_string().contains("tgm-"),
        "no tokens in lists"
    );

    let r = t
        .patch(
            &format!("/api/organizations/{org}/members/{dev_id}"),
            &owner,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.body["role"], "admin");
    // The last owner stays.
    let r = t
        .patch(
            &format!("/api/organizations/{org}/members/{owner_id}"),
            &owner,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_owner"));
    let r = t
        .delete(
            &format!("/api/organizations/{org}/members/{owner_id}"),
            &owner,
        )
        .await;
    assert_eq!(r.code(), "last_owner");
    assert_eq!(
        t.delete(
            &format!("/api/organizations/{org}/members/{dev_id}"),
            &owner
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&format!("/api/organizations/{org}/members"), &owner)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn credits(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let (_, owner) = t.member(&org, "owner@acme.io", "owner").await;
    let path = format!("/api/organizations/{org}/credits");
    let r = t
        .post(
            &path,
            ADMIN,
            json!({"amount_usd": 25.5, "reference": "inv-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["balance_usd"], 25.5);
    t.post(
        &path,
        ADMIN,
        json!({"amount_usd": 0.000001, "reference": "inv-2"}),
    )
    .await;
    let r = t.get(&path, &owner).await;
    assert_eq!(r.body["balance_usd"], 25.500001);
    assert_eq!(r.body["grants"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["grants"][0]["reference"], "inv-1");
    assert_eq!(r.body["grants"][0]["actor"], "admin");
    assert_eq!(
        t.get(&format!("/api/organizations/{org}"), &owner)
            .await
            .body["credits_usd"],
        25.500001
    );
    for bad in [
        json!({"amount_usd": 0, "reference": "x"}),
        json!({"amount_usd": -5, "reference": "x"}),
    ] {
        let r = t.post(&path, ADMIN, bad).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, "amount_usd")
        );
    }
    let r = t
        .post(&path, ADMIN, json!({"amount_usd": 1, "reference": ""}))
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, "reference")
    );
    // Top-ups are the gateway admin's.
    let r = t
        .post(
            &path,
            &owner,
            json!({"amount_usd": 1000, "reference": "free money"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn organization_validation(backend: Backend) {
    let t = spawn_app(backend).await;
    let r = t
        .post("/api/organizations", ADMIN, json!({"name": ""}))
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "name"));
    let r = t
        .post(
            "/api/organizations",
            ADMIN,
            json!({"name": "x", "project_limit": 0}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, "project_limit")
    );
    let r = t
        .post(
            "/api/organizations",
            ADMIN,
            json!({"name": "x", "project_limit": 3}),
        )
        .await;
    assert_eq!(r.body["project_limit"], 3);
    let org = r.id();
    let (_, owner) = t.member(&org, "o@x.io", "owner").await;
    // Creating organizations and changing limits is for the gateway admin only.
    assert_eq!(
        t.post("/api/organizations", &owner, json!({"name": "y"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = t
        .patch(
            &format!("/api/organizations/{org}"),
            &owner,
            json!({"project_limit": 100}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.get("/api/organizations/unknown", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
}
