//! The usage spool: a gateway killed with SIGKILL under load loses no usage record of a request
//! its client saw answered (the restarted gateway replays the spool before serving), and a
//! replay appends each record once however often it runs.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tollgate_aggregates::usage::UsageRecord;

use crate::both;
use crate::helpers::{fresh_database, spawn_app, test_spool_root, Backend, ADMIN};
use crate::processes::{call, free_port, gateway, mock_provider, wait_ready};

both!(
    replay_appends_each_record_once,
    answered_requests_survive_kill_9
);

fn record(i: i64) -> UsageRecord {
    UsageRecord {
        request_id: format!("spooled-{i}"),
        organization_id: "org-spool".into(),
        project_id: "project-spool".into(),
        key_id: "key-spool".into(),
        cost_nano_usd: 1000 + i,
        started_at: 1_700_000_000_000_000 + i,
        ..UsageRecord::default()
    }
}

fn segment(dir: &std::path::Path, name: &str, records: &[UsageRecord]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

async fn request_ids(db: &tollgate_projections::Db) -> Vec<String> {
    use sqlx::Row;
    sqlx::query("SELECT request_id FROM rm_usage_logs")
        .fetch_all(&db.any)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("request_id"))
        .collect()
}

async fn replay_appends_each_record_once(backend: Backend) {
    use tollgate::proxy::replay::replay;
    let t = spawn_app(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<UsageRecord> = (0..5).map(record).collect();
    // Two segments of one killed process, one record in both (spooled twice).
    let first = vec![
        segment(dir.path(), "a-0.jsonl", &records[..3]),
        segment(dir.path(), "a-1.jsonl", &records[2..]),
    ];
    let appended = replay(&t.app.db, &t.app.projector, &first).await.unwrap();
    assert_eq!(appended, 5);
    assert!(
        first.iter().all(|p| !p.exists()),
        "replayed segments removed"
    );
    // The same records again (a replay cut short before it removed its segments), and one new.
    let mut again = records.clone();
    again.push(record(5));
    let second = vec![segment(dir.path(), "a-2.jsonl", &again)];
    let appended = replay(&t.app.db, &t.app.projector, &second).await.unwrap();
    assert_eq!(appended, 1, "only the record not yet in the log");
    let mut ids = request_ids(&t.app.db).await;
    ids.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("spooled-{i}")).collect();
    assert_eq!(ids, expected, "each record once");
}

/// One client: requests with its own ids until the gateway goes away; the ids of complete
/// 200 answers (a stream's up to `[DONE]`) are kept.
async fn client_loop(base: String, token: String, n: usize, answered: Arc<Mutex<Vec<String>>>) {
    let client = reqwest::Client::new();
    for i in 0.. {
        let id = format!("kill9-{n}-{i}");
        let stream = (n + i).is_multiple_of(2);
        let body = json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 16,
            "stream": stream,
        });
        let sent = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&token)
            .header("x-request-id", &id)
            .json(&body)
            .send()
            .await;
        let Ok(r) = sent else { return };
        let ok = r.status().is_success();
        let Ok(text) = r.text().await else { return };
        let complete = if stream {
            text.contains("data: [DONE]")
        } else {
            text.contains("\"choices\"")
        };
        if ok && complete {
            answered.lock().unwrap().push(id);
        }
    }
}

async fn answered_requests_survive_kill_9(backend: Backend) {
    let (url, scratch) = fresh_database(backend).await;
    let spool = test_spool_root().join(uuid::Uuid::new_v4().simple().to_string());
    let mock_port = free_port();
    let _mock = mock_provider(mock_port);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut first = gateway(&url, port, mock_port, &spool);
    wait_ready(&client, &base).await;
    let org = call(
        &client,
        &base,
        "/api/organizations",
        ADMIN,
        json!({"name": "k9"}),
    )
    .await;
    let org = org["id"].as_str().unwrap().to_string();
    let credits = json!({"amount_usd": 1000, "reference": "k9"});
    call(
        &client,
        &base,
        &format!("/api/organizations/{org}/credits"),
        ADMIN,
        credits,
    )
    .await;
    let project = json!({"organization_id": org, "name": "k9", "mode": "credits"});
    let project = call(&client, &base, "/api/projects", ADMIN, project).await;
    let project = project["id"].as_str().unwrap().to_string();
    let key = call(
        &client,
        &base,
        &format!("/api/projects/{project}/keys"),
        ADMIN,
        json!({}),
    )
    .await;
    let token = key["token"].as_str().unwrap().to_string();

    let answered = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..16)
        .map(|n| {
            tokio::spawn(client_loop(
                base.clone(),
                token.clone(),
                n,
                answered.clone(),
            ))
        })
        .collect();
    // Under load for a while, then killed mid-flush.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 50,
        "the load ran ({} answered)",
        answered.len()
    );

    let _second = gateway(&url, port, mock_port, &spool);
    wait_ready(&client, &base).await;
    let db = tollgate_projections::Db::connect(&url).await.unwrap();
    let mut logged: HashMap<String, usize> = HashMap::new();
    for id in request_ids(&db).await {
        *logged.entry(id).or_default() += 1;
    }
    let lost: Vec<&String> = answered
        .iter()
        .filter(|id| !logged.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests have no usage record, e.g. {:?}",
        lost.len(),
        answered.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
    let twice: HashSet<&String> = logged
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(twice.is_empty(), "recorded twice: {twice:?}");
    drop(db);
    drop(_second);
    let _ = std::fs::remove_dir_all(&spool);
    drop(scratch);
}
