//! The dashboard in a real headless Chromium (`tests/python/test_dashboard.py`, Playwright over
//! Debian's `chromium`): an owner's whole first session, a developer's limits, a cross-site
//! form, no JavaScript errors. OpenAI is mocked by wiremock for the playground's stream. The
//! screenshots land in `target/screenshots`, or in `docs/screenshots` with
//! `TOLLGATE_WRITE_SCREENSHOTS=1` (how README's pictures are made).

use std::path::PathBuf;

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Backend, ADMIN};
use crate::upstream::{openai_stream, spawn_gateway};

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run installs it)"
    );
    let python = crate::python();
    let g = spawn_gateway(Backend::Sqlite).await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(openai_stream(&["Hello", " from", " the stream"], 7, 3)),
        )
        .mount(&g.mock)
        .await;
    let t = &g.t;
    let org = t.org("Acme").await;
    let r = t
        .post(
            &format!("/api/organizations/{org}/credits"),
            ADMIN,
            json!({"amount_usd": 10.0, "reference": "trial"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let (_, owner) = t.member(&org, "owner@acme.test", "owner").await;
    let (_, developer) = t.member(&org, "dev@acme.test", "developer").await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shots = match std::env::var_os("TOLLGATE_WRITE_SCREENSHOTS") {
        Some(_) => root.join("docs/screenshots"),
        None => root.join("target/screenshots"),
    };
    let shots = shots.display().to_string();
    let env = [
        ("OWNER_TOKEN", owner.as_str()),
        ("DEVELOPER_TOKEN", developer.as_str()),
        ("ORG_NAME", "Acme"),
        ("SCREENSHOTS", shots.as_str()),
    ];
    let script = "tests/python/test_dashboard.py";
    let (ok, report) = crate::run_script(&python, script, &t.base, "", &env).await;
    assert!(ok, "{report}");

    // What the browser did is what the API holds.
    let projects = t
        .get(&format!("/api/organizations/{org}/projects"), ADMIN)
        .await;
    let project = &projects.body[0];
    assert_eq!(project["name"], "Web shop", "{:?}", projects.body);
    assert_eq!(project["caching_enabled"], true);
    assert_eq!(project["cache_duration_seconds"], 600);
    let id = project["id"].as_str().unwrap();
    let keys = t.get(&format!("/api/projects/{id}/keys"), ADMIN).await;
    let keys = keys.body.as_array().cloned().unwrap_or_default();
    let described = |d: &str| keys.iter().find(|k| k["description"] == d).cloned();
    let checkout = described("Checkout service").expect("the key made in the browser");
    assert_eq!(checkout["usage_limit_usd"], 5.0);
    assert_eq!(checkout["rate_limits"]["requests_per_minute"], 30);
    assert_eq!(checkout["period_limit_usd"], 2.0);
    assert_eq!(checkout["period"], "day");
    let hooks = t
        .get(&format!("/api/organizations/{org}/webhooks"), ADMIN)
        .await;
    assert_eq!(
        hooks.body[0]["url"], "http://127.0.0.1:9/alerts",
        "{:?}",
        hooks.body
    );
    let rules = t
        .get(
            &format!("/api/keys/{}/iam-rules", checkout["id"].as_str().unwrap()),
            ADMIN,
        )
        .await;
    assert_eq!(rules.body["rules"][0]["type"], "allow_models");
    // The playground's message went through the proxy, metered on the member's own key.
    let playground = described("Playground: owner@acme.test").expect("the playground key");
    // One message, then the same to two models side by side.
    let logs = g.usage_logs(id, 3).await;
    let served: Vec<&Value> = logs.iter().filter(|l| l["status"] == 200).collect();
    assert_eq!(served.len(), 3, "{logs:?}");
    for l in served {
        assert_eq!(l["key_id"], playground["id"]);
        assert_eq!(l["endpoint"], "chat");
    }
}
