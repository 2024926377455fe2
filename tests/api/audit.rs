use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use tollgate::crypto::token_hash;

use crate::helpers::{spawn_app, Backend, ADMIN};
use crate::projects::urlencode;

both!(
    audit_filters_and_paging,
    members_see_only_their_organization,
    token_hashes_are_not_served
);

fn events(r: &crate::helpers::Resp) -> Vec<Value> {
    r.body["events"].as_array().expect("events").clone()
}

async fn audit_filters_and_paging(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("acme").await;
    let other = t.team("other").await;
    let p = &team.project;
    let start = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for i in 0..3 {
        let r = t
            .client
            .patch(format!("{}/api/projects/{p}", t.base))
            .bearer_auth(&team.owner.1)
            .header("x-request-id", format!("rename-{i}"))
            .json(&json!({"name": format!("name {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let end = chrono::Utc::now().to_rfc3339();
    t.patch(
        &format!("/api/projects/{p}"),
        &team.owner.1,
        json!({"description": "later"}),
    )
    .await;

    let org = &team.org;
    let all = t
        .get(
            &format!("/api/audit?organization_id={org}&limit=500"),
            ADMIN,
        )
        .await;
    let all = events(&all);
    assert!(all.iter().all(|e| e["organization_id"] == json!(org)));
    let positions: Vec<i64> = all
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "log order");

    let renames = t
        .get(
            &format!("/api/audit?aggregate_id={p}&event_type=ProjectRenamed"),
            ADMIN,
        )
        .await;
    let renames = events(&renames);
    assert_eq!(renames.len(), 3);
    for (i, e) in renames.iter().enumerate() {
        assert_eq!(e["aggregate_type"], "Project");
        assert_eq!(e["payload"]["ProjectRenamed"]["name"], format!("name {i}"));
        assert_eq!(e["metadata"]["actor"], json!(team.owner.0));
        assert_eq!(e["metadata"]["request_id"], format!("rename-{i}"));
        assert!(e["metadata"]["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(e["event_version"], "1.0");
    }
    let seqs: Vec<i64> = renames
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));

    let window = t
        .get(
            &format!(
                "/api/audit?organization_id={org}&since={}&until={}",
                urlencode(&start),
                urlencode(&end)
            ),
            ADMIN,
        )
        .await;
    let window = events(&window);
    assert_eq!(window.len(), 3, "{window:?}");
    assert!(window.iter().all(|e| e["event_type"] == "ProjectRenamed"));

    let types = t
        .get("/api/audit?aggregate_type=Organization&limit=500", ADMIN)
        .await;
    let types = events(&types);
    assert!(types.iter().all(|e| e["aggregate_type"] == "Organization"));
    assert!(types
        .iter()
        .any(|e| e["organization_id"] == json!(other.org)));

    // Paging: small pages walk the same events, none twice, then stop.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/audit?organization_id={org}&limit=3");
        if let Some(c) = &cursor {
            path += &format!("&cursor={c}");
        }
        let page = t.get(&path, ADMIN).await;
        let items = events(&page);
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|e| e["position"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, positions);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
    let r = t.get("/api/audit?cursor=abc", ADMIN).await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "cursor"));
    let r = t.get("/api/audit?since=yesterday", ADMIN).await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, "since"));
}

async fn members_see_only_their_organization(backend: Backend) {
    let t = spawn_app(backend).await;
    let a = t.team("alpha").await;
    let b = t.team("beta").await;
    for (team, other) in [(&a, &b), (&b, &a)] {
        let r = t.get("/api/audit?limit=500", &team.dev.1).await;
        let items = events(&r);
        assert!(!items.is_empty());
        assert!(items
            .iter()
            .all(|e| e["organization_id"] == json!(team.org)));
        assert!(!r.body.to_string().contains(&other.org));
    }
    // Provider secrets are never served, not even encrypted.
    t.post(
        &format!("/api/projects/{}/provider-keys", a.project),
        ADMIN,
        json!({"provider": "openai", "api_key": "sk-alpha-PLAINTEXT"}),
    )
    .await;
    let r = t
        .get("/api/audit?event_type=ProviderKeyAdded", &a.owner.1)
        .await;
    let items = events(&r);
    assert_eq!(items.len(), 1);
    let added = &items[0]["payload"]["ProviderKeyAdded"];
    assert_eq!(added["provider"], "openai", "{added}");
    assert!(added.get("encrypted_key").is_none(), "{added}");
    assert!(!r.body.to_string().contains("PLAINTEXT"));
}

/// The SHA-256 of a key's or a member's token identifies the token (whoever holds a leaked
/// one can match it to its key): the event log keeps it, the audit API serves it to nobody.
async fn token_hashes_are_not_served(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("hashes").await;
    let (key_id, first) = t.key(&team.project, &team.owner.1).await;
    let r = t
        .post(
            &format!("/api/keys/{key_id}/rotate"),
            &team.owner.1,
            json!({"grace_seconds": 60}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let second = r.body["token"].as_str().unwrap().to_string();
    let hashes: Vec<String> = [&first, &second, &team.owner.1, &team.dev.1]
        .iter()
        .map(|token| token_hash(token))
        .collect();

    // The hashes are in the log (a rebuild needs them)...
    let log = serde_json::to_string(
        &tollgate_projections::events::fetch_after(&t.app.db.any, 0, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.payload_json())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    for hash in &hashes {
        assert!(log.contains(hash.as_str()), "the log keeps {hash}");
    }
    // ...and in no answer of the audit API, to the admin or to any member.
    for token in [ADMIN, &team.owner.1, &team.dev.1] {
        let r = t.get("/api/audit?limit=500", token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let text = r.body.to_string();
        let kinds: HashSet<String> = events(&r)
            .iter()
            .filter_map(|e| e["event_type"].as_str().map(String::from))
            .collect();
        for kind in ["ApiKeyCreated", "KeyRotated", "MemberAdded"] {
            assert!(kinds.contains(kind), "{kind} in {kinds:?}");
        }
        for hash in &hashes {
            assert!(!text.contains(hash.as_str()), "{hash} served in {text}");
        }
        assert!(!text.contains("token_hash"), "{text}");
    }
    let rotated = t
        .get(
            &format!("/api/audit?event_type=KeyRotated&aggregate_id={key_id}"),
            &team.owner.1,
        )
        .await;
    let rotated = &events(&rotated)[0]["payload"]["KeyRotated"];
    // What is not secret stays.
    assert!(
        rotated["prefix"]
            .as_str()
            .is_some_and(|p| second.starts_with(p)),
        "{rotated}"
    );
}
