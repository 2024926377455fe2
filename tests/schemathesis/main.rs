#![allow(dead_code)]
//! schemathesis against the served `/api/openapi.json`, as an organization owner, on SQLite
//! and on Postgres: every answer must be documented (status, content type, headers, body
//! schema), no request may get a 5xx, and invalid requests must be refused. It comes from
//! the venv that `scripts/test.sh` prepares (or the binary named by
//! `TOLLGATE_TEST_SCHEMATHESIS`). Bounded and repeatable: a fixed seed and few examples per
//! operation.

#[path = "../api/helpers.rs"]
mod helpers;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use helpers::{spawn_app, Backend, ADMIN};

/// Test cases per operation and phase: enough to reach every route's checks, small enough
/// for well under a minute per store.
const EXAMPLES: &str = "30";
const SEED: &str = "20261204";

/// Every check but `positive_data_acceptance`: the schema describes the shape of requests
/// (types, required fields), not every rule the server enforces (a valid email, a name's
/// length), so a schema-valid request may still rightly get a 400.
const EXCLUDED_CHECKS: &str = "positive_data_acceptance";

fn schemathesis() -> PathBuf {
    let bin = std::env::var_os("TOLLGATE_TEST_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis")
        });
    assert!(
        bin.exists(),
        "{} does not exist: run scripts/test.sh once (it installs tests/python/requirements.txt \
         into .venv), or point TOLLGATE_TEST_SCHEMATHESIS at a schemathesis binary",
        bin.display()
    );
    bin
}

both!(api_conforms_to_its_openapi_document);

async fn api_conforms_to_its_openapi_document(backend: Backend) {
    let bin = schemathesis();
    let t = spawn_app(backend).await;
    let team = t.team("fuzzed").await;
    let owner = &team.owner.1;
    let project = &team.project;
    // Destructive operations get resources of their own, so that the others keep finding
    // theirs.
    let spare_member = t.member(&team.org, "spare@fuzzed.io", "developer").await.0;
    let spare_project = t.project(&team.org, owner, "spare").await;
    let key = t.key(project, owner).await.0;
    let spare_key = t.key(project, owner).await.0;
    let mut provider_keys = Vec::new();
    for secret in ["sk-fuzzed-one", "sk-fuzzed-two"] {
        let r = t
            .post(
                &format!("/api/projects/{project}/provider-keys"),
                ADMIN,
                json!({"provider": "openai", "api_key": secret}),
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
        provider_keys.push(r.id());
    }

    let mut webhooks = Vec::new();
    for _ in 0..2 {
        let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["limit_reached"]});
        let r = t
            .post(
                &format!("/api/organizations/{}/webhooks", team.org),
                ADMIN,
                hook,
            )
            .await;
        assert!(r.status.is_success(), "{:?}", r.body);
        webhooks.push(r.body["webhook"]["id"].as_str().unwrap().to_string());
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    let ids = Ids {
        org: &team.org,
        member: &team.dev.0,
        spare_member: &spare_member,
        project,
        spare_project: &spare_project,
        key: &key,
        spare_key: &spare_key,
        provider_key: &provider_keys[0],
        spare_provider_key: &provider_keys[1],
        webhook: &webhooks[0],
        spare_webhook: &webhooks[1],
    };
    std::fs::write(&config, ids.config()).unwrap();

    let run = tokio::process::Command::new(&bin)
        .arg("--config-file")
        .arg(&config)
        .args(["--no-color", "run"])
        .arg(format!("{}/api/openapi.json", t.base))
        .args(["--header", &format!("Authorization: Bearer {owner}")])
        .args(["--checks", "all", "--exclude-checks", EXCLUDED_CHECKS])
        .args(["--max-examples", EXAMPLES, "--seed", SEED])
        .args(["--workers", "1", "--generation-database", "none"])
        .args(["--request-timeout", "30"])
        // Its caches and reports stay out of the checkout.
        .current_dir(dir.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("schemathesis finished within 300 s")
        .unwrap_or_else(|e| panic!("{} could not be run: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It did test every operation (a schema it could not load would test none).
    assert!(stdout.contains("Tested: 35"), "{stdout}");
}

/// The ids the config binds each route's path parameters to (most of the time: some
/// examples still get generated ids, which must be refused cleanly).
struct Ids<'a> {
    org: &'a str,
    member: &'a str,
    spare_member: &'a str,
    project: &'a str,
    spare_project: &'a str,
    key: &'a str,
    spare_key: &'a str,
    provider_key: &'a str,
    spare_provider_key: &'a str,
    webhook: &'a str,
    spare_webhook: &'a str,
}

impl Ids<'_> {
    /// schemathesis.toml: one dictionary per id; for each route the first matching
    /// `[[operations]]` entry binds its parameters (DELETE entries come first).
    fn config(&self) -> String {
        let bind = |param: &str, dictionary: &str| {
            format!("\"{param}\" = {{ dictionary = \"{dictionary}\", probability = 0.9 }}")
        };
        let operation = |method: Option<&str>, path: &str, bindings: &[String]| {
            let method = method.map_or(String::new(), |m| format!("include-method = \"{m}\"\n"));
            let key = if path.starts_with('^') {
                "include-path-regex"
            } else {
                "include-path"
            };
            format!(
                "[[operations]]\n{method}{key} = \"{path}\"\nparameters = {{ {} }}\n\n",
                bindings.join(", ")
            )
        };
        let mut toml = String::from("[dictionaries]\n");
        for (name, value) in [
            ("org", self.org),
            ("member", self.member),
            ("spare_member", self.spare_member),
            ("project", self.project),
            ("spare_project", self.spare_project),
            ("key", self.key),
            ("spare_key", self.spare_key),
            ("provider_key", self.provider_key),
            ("spare_provider_key", self.spare_provider_key),
            ("webhook", self.webhook),
            ("spare_webhook", self.spare_webhook),
        ] {
            toml.push_str(&format!("{name} = {{ values = [\"{value}\"] }}\n"));
        }
        toml.push('\n');
        let org = bind("path.id", "org");
        toml += &operation(
            Some("DELETE"),
            "/api/organizations/{id}/members/{member_id}",
            &[org.clone(), bind("path.member_id", "spare_member")],
        );
        toml += &operation(
            None,
            "^/api/organizations/",
            &[org, bind("path.member_id", "member")],
        );
        toml += &operation(
            None,
            "/api/projects",
            &[bind("body.organization_id", "org")],
        );
        toml += &operation(None, "/api/audit", &[bind("query.organization_id", "org")]);
        for (path, regex, id, spare) in [
            (
                "/api/projects/{id}",
                "^/api/projects/",
                "project",
                "spare_project",
            ),
            ("/api/keys/{id}", "^/api/keys/", "key", "spare_key"),
            (
                "/api/provider-keys/{id}",
                "^/api/provider-keys/",
                "provider_key",
                "spare_provider_key",
            ),
            (
                "/api/webhooks/{id}",
                "^/api/webhooks/",
                "webhook",
                "spare_webhook",
            ),
        ] {
            toml += &operation(Some("DELETE"), path, &[bind("path.id", spare)]);
            toml += &operation(None, regex, &[bind("path.id", id)]);
        }
        toml
    }
}
