use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Row};
use tollgate::app::Meta;
use tollgate_aggregates::organization::OrganizationCommand;
use tollgate_projections::read::{self, dump};

use crate::both;
use crate::helpers::{spawn_app, Backend, ADMIN};

both!(
    projector_keeps_global_order_under_concurrent_writers,
    appends_wait_for_open_ones,
    rebuild_equals_live_read_models,
    rebuild_that_fails_recreates_indexes
);

async fn projected_positions(t: &crate::helpers::TestApp) -> (BTreeSet<i64>, BTreeSet<i64>) {
    let log = sqlx::query("SELECT global_pos FROM events")
        .fetch_all(&t.app.db.any)
        .await
        .unwrap();
    let audit = sqlx::query("SELECT position FROM rm_audit")
        .fetch_all(&t.app.db.any)
        .await
        .unwrap();
    let get =
        |rows: Vec<sqlx::any::AnyRow>, c: &str| rows.iter().map(|r| r.get::<i64, _>(c)).collect();
    (get(log, "global_pos"), get(audit, "position"))
}

/// Many writers commit straight to the event store (no catch-up of their own) while the
/// projector runs in a loop; in the end every event is projected exactly once.
async fn projector_keeps_global_order_under_concurrent_writers(backend: Backend) {
    let t = spawn_app(backend).await;
    let orgs: Vec<String> = futures::future::join_all((0..4).map(|i| t.org_named(i))).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let projector = {
        let app = t.app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                app.projector.catch_up().await.expect("projector batch");
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let app = t.app.clone();
        let org = orgs[w % orgs.len()].clone();
        writers.push(tokio::spawn(async move {
            let meta = Meta {
                actor: "admin".into(),
                request_id: format!("w{w}"),
            };
            let mut added = 0i64;
            for i in 0..15 {
                let cmd = OrganizationCommand::AddCredits {
                    amount_nano_usd: 1_000,
                    reference: format!("w{w}-{i}"),
                };
                let metadata = HashMap::from([("actor".to_string(), meta.actor.clone())]);
                if app
                    .organizations
                    .execute_with_metadata(&org, cmd, metadata)
                    .await
                    .is_ok()
                {
                    added += 1_000;
                }
            }
            (org, added)
        }));
    }
    let mut expected: HashMap<String, i64> = HashMap::new();
    for w in writers {
        let (org, added) = w.await.unwrap();
        *expected.entry(org).or_default() += added;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    projector.await.unwrap();
    t.app.projector.catch_up().await.unwrap();
    let (log, audit) = projected_positions(&t).await;
    assert_eq!(log, audit, "every committed event is projected once");
    for (org, credits) in expected {
        let row = read::organization(&t.app.db, &org).await.unwrap().unwrap();
        assert_eq!(row.credits_nano_usd, credits);
        assert!(credits > 0);
    }
}

/// An append waits while another append's transaction is open, so positions become visible
/// in order: a reader never sees N+1 before N.
async fn appends_wait_for_open_ones(backend: Backend) {
    let t = spawn_app(backend).await;
    let insert = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                  VALUES ('Probe', $1, 1, 'Probed', '1.0', '{\"Probed\":{}}', '{}')";
    let mut slow = sqlx::AnyConnection::connect(&t.database_url).await.unwrap();
    let mut slow_tx = slow.begin().await.unwrap();
    sqlx::query(insert)
        .bind("slow")
        .execute(&mut *slow_tx)
        .await
        .unwrap();

    let url = t.database_url.clone();
    let fast = tokio::spawn(async move {
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query(insert)
            .bind("fast")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    if backend == Backend::Postgres {
        // Until the second append is seen waiting on the lock, the test would prove nothing.
        let mut waiting = 0i64;
        for _ in 0..100 {
            waiting = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event = 'advisory'",
            )
            .fetch_one(&t.app.db.any)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            waiting > 0,
            "the second append waits on the commit-order lock"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !fast.is_finished(),
        "the second append must wait for the open one"
    );
    if backend == Backend::Postgres {
        // Readers are not blocked meanwhile (on SQLite the projector's write would queue).
        t.app.projector.catch_up().await.unwrap();
    }
    // The waiting append holds no position yet: one taken before the wait would come
    // before this later append of the open transaction, and commit after it.
    sqlx::query(insert)
        .bind("slow-2")
        .execute(&mut *slow_tx)
        .await
        .unwrap();
    slow_tx.commit().await.unwrap();
    fast.await.unwrap();
    t.app.projector.catch_up().await.unwrap();
    let (log, audit) = projected_positions(&t).await;
    assert_eq!(log, audit);
    let rows = sqlx::query(
        "SELECT aggregate_id FROM events WHERE aggregate_type = 'Probe' ORDER BY global_pos",
    )
    .fetch_all(&t.app.db.any)
    .await
    .unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.get("aggregate_id")).collect();
    assert_eq!(ids, ["slow", "slow-2", "fast"]);
}

async fn rebuild_equals_live_read_models(backend: Backend) {
    let t = spawn_app(backend).await;
    let team = t.team("acme").await;
    let other = t.team("other").await;
    let p = &team.project;
    let (k1, _) = t.key(p, &team.dev.1).await;
    let (k2, _) = t.key(p, &team.owner.1).await;
    t.post(
        &format!("/api/keys/{k1}/rotate"),
        ADMIN,
        json!({"grace_seconds": 600}),
    )
    .await;
    t.post(&format!("/api/keys/{k1}/rotate"), ADMIN, json!({}))
        .await;
    t.put(
        &format!("/api/keys/{k1}/iam-rules"),
        ADMIN,
        json!({"rules": [
        {"type": "allow_models", "models": ["openai/gpt-4o"]},
        {"type": "allow_pricing", "pricing_type": "paid", "max_input_usd_per_mtok": 2.5}]}),
    )
    .await;
    t.patch(
        &format!("/api/keys/{k1}"),
        ADMIN,
        json!({"usage_limit_usd": 7.25, "status": "disabled"}),
    )
    .await;
    t.delete(&format!("/api/keys/{k2}"), ADMIN).await;
    let pk = t
        .post(
            &format!("/api/projects/{p}/provider-keys"),
            ADMIN,
            json!({"provider": "anthropic", "api_key": "sk-ant-1234567890"}),
        )
        .await
        .id();
    t.patch(
        &format!("/api/provider-keys/{pk}"),
        ADMIN,
        json!({"status": "disabled"}),
    )
    .await;
    t.post(
        &format!("/api/organizations/{}/credits", team.org),
        ADMIN,
        json!({"amount_usd": 3.5, "reference": "r"}),
    )
    .await;
    t.patch(
        &format!("/api/projects/{p}"),
        ADMIN,
        json!({"name": "renamed", "caching_enabled": true}),
    )
    .await;
    t.delete(&format!("/api/projects/{}", other.project), ADMIN)
        .await;
    t.delete(
        &format!("/api/organizations/{}/members/{}", other.org, other.dev.0),
        ADMIN,
    )
    .await;

    let live = dump(&t.app.db).await.unwrap();
    for table in [
        "rm_organizations",
        "rm_members",
        "rm_projects",
        "rm_provider_keys",
        "rm_api_keys",
        "rm_key_tokens",
        "rm_iam_rules",
        "rm_audit",
        "rm_credit_grants",
    ] {
        assert!(!live[table].is_empty(), "{table} has rows");
    }
    t.app.projector.rebuild().await.unwrap();
    let rebuilt = dump(&t.app.db).await.unwrap();
    assert_eq!(live, rebuilt);
}

/// A rebuild drops the big tables' secondary indexes; one stopped by an event it cannot
/// decode still builds them again.
async fn rebuild_that_fails_recreates_indexes(backend: Backend) {
    use tollgate_projections::indexes::{existing, REBUILD_INDEXES};
    let t = spawn_app(backend).await;
    t.org("acme").await;
    let payload = if backend == Backend::Postgres {
        "CAST($1 AS json)"
    } else {
        "$1"
    };
    sqlx::query(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) VALUES ('Organization', 'broken', 1, 'E', '1', \
         {payload}, {})",
        payload.replace('1', "2")
    ))
    .bind(r#"{"nonsense": 1}"#)
    .bind("{}")
    .execute(&t.app.db.any)
    .await
    .unwrap();
    assert!(t.app.projector.rebuild().await.is_err());
    let names = existing(&t.app.db).await.unwrap();
    for index in REBUILD_INDEXES {
        assert!(
            names.iter().any(|n| n == index.name),
            "{} is back",
            index.name
        );
    }
}

impl crate::helpers::TestApp {
    async fn org_named(&self, i: usize) -> String {
        self.org(&format!("org{i}")).await
    }
}
