use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(other_organizations_ids_are_not_found);

/// Every route, with ids of organization A, called by each member of organization B: 404,
/// never 403 and never data; and A's log is unchanged afterwards.
async fn other_organizations_ids_are_not_found(backend: Backend) {
    let t = spawn_app(backend).await;
    let a = t.team("alpha").await;
    let b = t.team("beta").await;
    let (key, _) = t.key(&a.project, &a.owner.1).await;
    let pk = t
        .post(
            &format!("/api/projects/{}/provider-keys", a.project),
            ADMIN,
            json!({"provider": "openai", "api_key": "sk-alpha-secret"}),
        )
        .await
        .id();
    let (org, p, member) = (&a.org, &a.project, &a.dev.0);
    let audit_before = t
        .get(
            &format!("/api/audit?organization_id={org}&limit=500"),
            ADMIN,
        )
        .await;

    let body = json!({});
    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/organizations/{org}"), None),
        (
            Method::PATCH,
            format!("/api/organizations/{org}"),
            Some(json!({"project_limit": 50})),
        ),
        (
            Method::GET,
            format!("/api/organizations/{org}/members"),
            None,
        ),
        (
            Method::POST,
            format!("/api/organizations/{org}/members"),
            Some(json!({"email": "x@y.io", "role": "owner"})),
        ),
        (
            Method::PATCH,
            format!("/api/organizations/{org}/members/{member}"),
            Some(json!({"role": "owner"})),
        ),
        (
            Method::DELETE,
            format!("/api/organizations/{org}/members/{member}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/organizations/{org}/credits"),
            None,
        ),
        (
            Method::POST,
            format!("/api/organizations/{org}/credits"),
            Some(json!({"amount_usd": 5, "reference": "x"})),
        ),
        (
            Method::GET,
            format!("/api/organizations/{org}/projects"),
            None,
        ),
        (
            Method::POST,
            "/api/projects".to_string(),
            Some(json!({"organization_id": org, "name": "intruder"})),
        ),
        (Method::GET, format!("/api/projects/{p}"), None),
        (
            Method::GET,
            format!("/api/projects/{p}?as_of=2100-01-01T00:00:00Z"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/projects/{p}"),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("/api/projects/{p}"), None),
        (
            Method::POST,
            format!("/api/projects/{p}/keys"),
            Some(body.clone()),
        ),
        (Method::GET, format!("/api/projects/{p}/keys"), None),
        (
            Method::POST,
            format!("/api/projects/{p}/provider-keys"),
            Some(json!({"provider": "openai", "api_key": "sk-12345678"})),
        ),
        (
            Method::GET,
            format!("/api/projects/{p}/provider-keys"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/provider-keys/{pk}"),
            Some(json!({"status": "disabled"})),
        ),
        (Method::DELETE, format!("/api/provider-keys/{pk}"), None),
        (Method::GET, format!("/api/keys/{key}"), None),
        (
            Method::GET,
            format!("/api/keys/{key}?as_of=2100-01-01T00:00:00Z"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/keys/{key}"),
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::POST,
            format!("/api/keys/{key}/rotate"),
            Some(body.clone()),
        ),
        (Method::DELETE, format!("/api/keys/{key}"), None),
        (Method::GET, format!("/api/keys/{key}/iam-rules"), None),
        (
            Method::PUT,
            format!("/api/keys/{key}/iam-rules"),
            Some(json!({"rules": []})),
        ),
        (
            Method::GET,
            format!("/api/audit?organization_id={org}"),
            None,
        ),
    ];
    for token in [&b.owner.1, &b.admin.1, &b.dev.1] {
        for (method, path, body) in &routes {
            let r = t.call(method.clone(), path, token, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {:?}",
                r.body
            );
            let text = r.body.to_string();
            assert!(
                !text.contains("alpha") && !text.contains(org.as_str()),
                "{method} {path} leaked: {text}"
            );
        }
        // Filtering the audit trail by A's ids yields nothing of A.
        for filter in [
            format!("aggregate_id={p}"),
            format!("aggregate_id={key}"),
            format!("aggregate_id={org}"),
        ] {
            let r = t.get(&format!("/api/audit?{filter}"), token).await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(
                r.body["events"].as_array().unwrap().is_empty(),
                "{filter}: {:?}",
                r.body
            );
        }
    }
    let audit_after = t
        .get(
            &format!("/api/audit?organization_id={org}&limit=500"),
            ADMIN,
        )
        .await;
    assert_eq!(audit_before.body, audit_after.body, "nothing of A changed");
}
