//! Limits across replicas: three `tollgate serve` processes on one Postgres database, 1,000
//! concurrent requests spread over them, against a key limit or organization credits with
//! room for 10 requests.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate_projections::{read, Db, Projector};

use crate::helpers::{fresh_database, test_spool_root, Backend, Scratch, ADMIN};
use crate::processes::{call, free_port, gateway, mock_provider, wait_ready, Server};

/// The mock answers every request with the same usage, so every request costs the same.
fn body() -> Value {
    // 38 bytes of text: the prompt's reservation bound (19 tokens) covers the mock's 12.
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hello to the benchmark, then stop."}],
        "max_tokens": 8,
    })
}

struct Replicas {
    url: String,
    _scratch: Option<Scratch>,
    _mock: Server,
    gateways: Vec<Server>,
    bases: Vec<String>,
    client: reqwest::Client,
}

impl Replicas {
    async fn start() -> Self {
        let (url, scratch) = fresh_database(Backend::Postgres).await;
        let mock_port = free_port();
        let mock = mock_provider(mock_port);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(400)
            .build()
            .unwrap();
        let mut gateways = Vec::new();
        let mut bases = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let spool = test_spool_root().join(uuid::Uuid::new_v4().simple().to_string());
            gateways.push(gateway(&url, port, mock_port, &spool));
            bases.push(format!("http://127.0.0.1:{port}"));
        }
        for base in &bases {
            wait_ready(&client, base).await;
        }
        Self {
            url,
            _scratch: scratch,
            _mock: mock,
            gateways,
            bases,
            client,
        }
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        call(&self.client, &self.bases[0], path, ADMIN, body).await
    }

    /// An organization with `credits_usd`, a credits-mode project and a key (with `limit`).
    async fn tenant(&self, credits_usd: f64, limit_usd: Option<f64>) -> (String, String, String) {
        let org = self
            .admin("/api/organizations", json!({"name": "shared"}))
            .await;
        let org = org["id"].as_str().unwrap().to_string();
        let credits = json!({"amount_usd": credits_usd, "reference": "shared"});
        self.admin(&format!("/api/organizations/{org}/credits"), credits)
            .await;
        let project = json!({"organization_id": org, "name": "p", "mode": "credits"});
        let project = self.admin("/api/projects", project).await;
        let project = project["id"].as_str().unwrap();
        let key = json!({"usage_limit_usd": limit_usd});
        let key = self
            .admin(&format!("/api/projects/{project}/keys"), key)
            .await;
        let id = key["key"]["id"].as_str().unwrap().to_string();
        (org, id, key["token"].as_str().unwrap().to_string())
    }

    /// Waits until every replica knows the key.
    async fn known_everywhere(&self, token: &str) {
        for base in &self.bases {
            for _ in 0..200 {
                let r = self
                    .client
                    .get(format!("{base}/v1/models"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                if r.status() == StatusCode::OK {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }

    /// What one request costs (fee included), from a tenant of its own.
    async fn cost_of_one(&self) -> f64 {
        let (_, _, token) = self.tenant(100.0, None).await;
        self.known_everywhere(&token).await;
        let r = self.chat(0, &token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let cost = r.headers()["x-tollgate-cost-usd"].to_str().unwrap();
        cost.parse().unwrap()
    }

    async fn chat(&self, replica: usize, token: &str) -> reqwest::Response {
        self.clone_handle().chat(replica, token).await
    }

    /// 1,000 concurrent requests spread over the replicas: the statuses.
    async fn storm(&self, token: &str) -> Vec<StatusCode> {
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let r = self.clone_handle();
                let token = token.to_string();
                tokio::spawn(async move { r.chat(i, &token).await.status() })
            })
            .collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses
    }

    fn clone_handle(&self) -> Handle {
        Handle {
            bases: self.bases.clone(),
            client: self.client.clone(),
        }
    }

    /// Stops every replica with SIGTERM (each drains its usage and gives back its unspent
    /// slices), then brings the read models up to date.
    async fn stop(mut self) -> (Db, Option<Scratch>) {
        for g in &self.gateways {
            let _ = Command::new("kill")
                .args(["-TERM", &g.0.id().to_string()])
                .status();
        }
        for g in &mut self.gateways {
            let _ = g.0.wait();
        }
        let db = Db::connect(&self.url).await.unwrap();
        Projector::new(db.clone()).catch_up().await.unwrap();
        (db, self._scratch.take())
    }
}

#[derive(Clone)]
struct Handle {
    bases: Vec<String>,
    client: reqwest::Client,
}

impl Handle {
    async fn chat(&self, replica: usize, token: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.bases[replica % 3]))
            .bearer_auth(token)
            .json(&body())
            .send()
            .await
            .unwrap()
    }
}

fn admitted(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| **s == StatusCode::OK).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_limit_holds_across_three_replicas() {
    let r = Replicas::start().await;
    let cost = r.cost_of_one().await;
    let limit = cost * 10.0;
    let (_, key_id, token) = r.tenant(100.0, Some(limit)).await;
    r.known_everywhere(&token).await;
    let statuses = r.storm(&token).await;
    let ok = admitted(&statuses);
    assert!((1..=10).contains(&ok), "{ok} admitted with room for 10");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS),
        "refusals are 429: {statuses:?}"
    );
    let (db, _scratch) = r.stop().await;
    let (spent, _) = read::spend(&db, "key", &key_id).await.unwrap();
    let limit_nanos = (limit * 1e9).round() as i64;
    assert!(spent <= limit_nanos, "spent {spent} of {limit_nanos}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credits_never_go_below_zero_across_three_replicas() {
    let r = Replicas::start().await;
    let cost = r.cost_of_one().await;
    let (org, _, token) = r.tenant(cost * 10.0, None).await;
    r.known_everywhere(&token).await;
    let statuses = r.storm(&token).await;
    let ok = admitted(&statuses);
    assert!((1..=10).contains(&ok), "{ok} admitted with credits for 10");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::PAYMENT_REQUIRED),
        "refusals are 402: {statuses:?}"
    );
    let (db, _scratch) = r.stop().await;
    let balance = read::organization(&db, &org)
        .await
        .unwrap()
        .unwrap()
        .credits_nano_usd;
    assert!(balance >= 0, "balance {balance}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_key_is_refused_by_every_replica() {
    let r = Replicas::start().await;
    let (_, key_id, token) = r.tenant(100.0, None).await;
    let expires = chrono::Utc::now().timestamp() + 3;
    let at = chrono::DateTime::from_timestamp(expires, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let patched = r
        .client
        .patch(format!("{}/api/keys/{key_id}", r.bases[0]))
        .bearer_auth(ADMIN)
        .json(&json!({"expires_at": at}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    r.known_everywhere(&token).await;
    for replica in 0..3 {
        assert_eq!(r.chat(replica, &token).await.status(), StatusCode::OK);
    }
    // Expiry is each replica's own clock against the time every replica was told.
    let wait = expires * 1000 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64 + 50)).await;
    for replica in 0..3 {
        let refused = r.chat(replica, &token).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "key_expired", "replica {replica}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_holds_across_three_replicas() {
    let r = Replicas::start().await;
    let (org, _, _) = r.tenant(100.0, None).await;
    let project = json!({"organization_id": org, "name": "rpm", "mode": "credits"});
    let project = r.admin("/api/projects", project).await;
    let project = project["id"].as_str().unwrap();
    let key = json!({"rate_limits": {"requests_per_minute": 30}});
    let key = r.admin(&format!("/api/projects/{project}/keys"), key).await;
    let token = key["token"].as_str().unwrap().to_string();
    r.known_everywhere(&token).await;
    // The storm takes a few seconds: it starts early in a minute, so that one minute holds it.
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second > 40 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let h = r.clone_handle();
            let token = token.clone();
            tokio::spawn(async move {
                let answer = h.chat(i, &token).await;
                let retry = answer.headers().get("retry-after").is_some();
                (answer.status(), retry)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!((1..=30).contains(&ok), "{ok} admitted at 30 a minute");
    assert!(
        answers
            .iter()
            .all(|(s, retry)| *s == StatusCode::OK
                || (*s == StatusCode::TOO_MANY_REQUESTS && *retry)),
        "refusals are 429 with Retry-After"
    );
}
