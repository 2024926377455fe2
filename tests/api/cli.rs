//! The binary's `bootstrap` and `projections rebuild` commands on a fresh SQLite file.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{fresh_database, spawn_with, test_config, Backend, ADMIN, SECRET_KEY};

fn tollgate(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TOLLGATE_DATABASE_URL", url)
        .env("TOLLGATE_SECRET_KEY", SECRET_KEY)
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_then_use_the_owner_token_then_rebuild() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let out = tollgate(
        &url,
        &[
            "bootstrap",
            "--organization",
            "Acme",
            "--email",
            "me@acme.io",
        ],
    );
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} in {out}"))
    };
    let org = field("organization_id:");
    let token = field("owner token:");
    assert!(token.starts_with("tgm-"));

    let t = spawn_with(test_config(&url), dir).await;
    let r = t.get(&format!("/api/organizations/{org}"), &token).await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (StatusCode::OK, Some("Acme"))
    );
    let p = t.project(&org, &token, "first").await;
    let members = t
        .get(&format!("/api/organizations/{org}/members"), &token)
        .await;
    assert_eq!(members.body[0]["role"], "owner");
    let before = tollgate_projections::read::dump(&t.app.db).await.unwrap();

    let out = tollgate(&url, &["projections", "rebuild"]);
    assert!(out.contains("rebuilt up to position"), "{out}");
    assert_eq!(
        before,
        tollgate_projections::read::dump(&t.app.db).await.unwrap()
    );
    let r = t
        .patch(
            &format!("/api/projects/{p}"),
            &token,
            json!({"name": "still works"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn openapi_command_prints_the_document() {
    let out = tollgate("sqlite::memory:", &["openapi"]);
    assert!(out.contains("\"openapi\""));
}

/// A database URL of a store tollgate does not support is refused by name, before anything
/// is opened (it used to be taken as a SQLite file name and fail with SQLite's error).
#[test]
fn an_unsupported_database_scheme_is_refused_by_name() {
    let cwd = tempfile::tempdir().unwrap();
    for url in [
        "mysql://root@127.0.0.1:3306/tollgate",
        "mariadb://db/tollgate",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve"])
            .current_dir(cwd.path())
            .env("TOLLGATE_DATABASE_URL", url)
            .env("TOLLGATE_LISTEN", "127.0.0.1:0")
            .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
            .env_remove("TOLLGATE_CONFIG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} must not start: {stderr}");
        let scheme = url.split(':').next().unwrap();
        for expected in [
            format!("unsupported database URL scheme `{scheme}:`"),
            "sqlite://".into(),
            "postgres://".into(),
        ] {
            assert!(stderr.contains(&expected), "{expected} in: {stderr}");
        }
        assert!(
            !stderr.to_lowercase().contains("unable to open"),
            "{stderr}"
        );
    }
    // Nothing was created where the server was started.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}
