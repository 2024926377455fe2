//! Tokens and provider secrets: shown once, then in no answer, log line, event or table.

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate_projections::read::dump;

use crate::both;
use crate::helpers::{fresh_database, spawn_app, test_config, Backend, ADMIN, SECRET_KEY};

both!(secrets_stay_out_of_the_database);

/// Everything the database holds (events and read models) as one string.
async fn database_text(t: &crate::helpers::TestApp) -> String {
    use sqlx::Row;
    let events =
        sqlx::query("SELECT CAST(payload AS TEXT) AS p, CAST(metadata AS TEXT) AS m FROM events")
            .fetch_all(&t.app.db.any)
            .await
            .unwrap();
    let mut text: String = events
        .iter()
        .map(|r| format!("{}{}", r.get::<String, _>("p"), r.get::<String, _>("m")))
        .collect();
    text += &format!("{:?}", dump(&t.app.db).await.unwrap());
    text
}

async fn secrets_stay_out_of_the_database(backend: Backend) {
    let t = spawn_app(backend).await;
    let org = t.org("acme").await;
    let (_, member_token) = t.member(&org, "o@acme.io", "owner").await;
    let p = t.project(&org, &member_token, "main").await;
    let (key, token) = t.key(&p, &member_token).await;
    let rotated = t
        .post(
            &format!("/api/keys/{key}/rotate"),
            ADMIN,
            json!({"grace_seconds": 60}),
        )
        .await;
    let rotated = rotated.body["token"].as_str().unwrap().to_string();
    let provider_secret = "sk-provider-TOPSECRET-9876";
    t.post(
        &format!("/api/projects/{p}/provider-keys"),
        ADMIN,
        json!({"provider": "openai", "api_key": provider_secret}),
    )
    .await;
    let text = database_text(&t).await;
    for secret in [&member_token, &token, &rotated, provider_secret, ADMIN] {
        assert!(!text.contains(secret), "a secret is stored in the clear");
    }
    assert!(
        text.contains(&tollgate::crypto::token_hash(&token)),
        "the hash is what is kept"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary with debug logs: after a full walk-through no secret is in its output
/// or in the SQLite files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_logs_and_files() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let dir = dir.unwrap();
    let port = free_port();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("TOLLGATE_DATABASE_URL", &url)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .env("TOLLGATE_SECRET_KEY", SECRET_KEY)
        .env("TOLLGATE_LOG_FORMAT", "json")
        .env("RUST_LOG", "trace,sqlx=trace")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let call = |method: reqwest::Method, path: String, token: String, body: Value| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let r = client
                .request(method, format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap()
        }
    };
    use reqwest::Method;
    let org = call(
        Method::POST,
        "/api/organizations".into(),
        ADMIN.into(),
        json!({"name": "acme"}),
    )
    .await;
    let org = org["id"].as_str().unwrap().to_string();
    let m = call(
        Method::POST,
        format!("/api/organizations/{org}/members"),
        ADMIN.into(),
        json!({"email": "o@a.io", "role": "owner"}),
    )
    .await;
    let member_token = m["token"].as_str().unwrap().to_string();
    let p = call(
        Method::POST,
        "/api/projects".into(),
        member_token.clone(),
        json!({"organization_id": org, "name": "p"}),
    )
    .await;
    let p = p["id"].as_str().unwrap().to_string();
    let k = call(
        Method::POST,
        format!("/api/projects/{p}/keys"),
        member_token.clone(),
        json!({}),
    )
    .await;
    let key_token = k["token"].as_str().unwrap().to_string();
    let key_id = k["key"]["id"].as_str().unwrap().to_string();
    let r = call(
        Method::POST,
        format!("/api/keys/{key_id}/rotate"),
        member_token.clone(),
        json!({"grace_seconds": 5}),
    )
    .await;
    let rotated = r["token"].as_str().unwrap().to_string();
    let provider_secret = "sk-provider-LOGSECRET-4321";
    call(
        Method::POST,
        format!("/api/projects/{p}/provider-keys"),
        member_token.clone(),
        json!({"provider": "openai", "api_key": provider_secret}),
    )
    .await;
    // A bad token in a request is not logged either.
    let r = client
        .get(format!("{base}/api/organizations/{org}"))
        .bearer_auth("tgm-NOT-A-REAL-TOKEN")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("request_id"),
        "logs were written with request ids"
    );
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tollgate.db")
        {
            files.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
        }
    }
    assert!(!files.is_empty());
    for secret in [
        &member_token,
        &key_token,
        &rotated,
        provider_secret,
        ADMIN,
        "tgm-NOT-A-REAL-TOKEN",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        for f in &files {
            assert!(!f.contains(secret), "a secret reached the database files");
        }
    }
    let _ = test_config; // the in-process variant shares the same configuration
}
