use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(
    concurrent_creations_never_pass_the_limit,
    concurrent_updates_lose_nothing
);

async fn concurrent_creations_never_pass_the_limit(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let results = join_all((0..25).map(|i| {
        t.post(
            "/api/projects",
            ADMIN,
            json!({"organization_id": org, "name": format!("p{i}")}),
        )
    }))
    .await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    for r in &results {
        assert!(
            r.status == StatusCode::CREATED
                || (r.status == StatusCode::CONFLICT
                    && ["project_limit_reached", "concurrent_modification"].contains(&r.code())),
            "{:?}",
            r.body
        );
    }
    assert!((1..=10).contains(&created), "{created} created");
    let list = t
        .get(&format!("/api/organizations/{org}/projects"), ADMIN)
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), created);
    assert_eq!(
        t.get(&format!("/api/organizations/{org}"), ADMIN)
            .await
            .body["project_count"],
        created
    );
    // Filling up one by one stops at exactly ten.
    let mut more = 0;
    loop {
        let r = t
            .post(
                "/api/projects",
                ADMIN,
                json!({"organization_id": org, "name": "late"}),
            )
            .await;
        if r.status != StatusCode::CREATED {
            assert_eq!(r.code(), "project_limit_reached");
            break;
        }
        more += 1;
    }
    assert_eq!(created + more, 10);
}

async fn concurrent_updates_lose_nothing(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let p = t.project(&org, ADMIN, "main").await;
    let path = format!("/api/projects/{p}");
    let results =
        join_all((0..20).map(|i| t.patch(&path, ADMIN, json!({"description": format!("d{i}")}))))
            .await;
    let ok = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    for r in &results {
        assert!(
            r.status == StatusCode::OK || r.code() == "concurrent_modification",
            "{:?}",
            r.body
        );
    }
    assert!(ok >= 1);
    // Every success is one event in the log, none overwritten, none lost.
    let log = t
        .get(
            &format!("/api/audit?aggregate_id={p}&event_type=ProjectDescriptionChanged&limit=500"),
            ADMIN,
        )
        .await;
    let changes = log.body["events"].as_array().unwrap();
    assert_eq!(changes.len(), ok);
    let seqs: Vec<i64> = changes
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let last = &changes.last().unwrap()["payload"]["ProjectDescriptionChanged"]["description"];
    assert_eq!(
        &t.get(&format!("/api/projects/{p}"), ADMIN).await.body["description"],
        last
    );
}
