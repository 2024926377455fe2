//! The usage summary over whole days comes from the daily rollup, not a scan of the logs: it
//! must agree with the scan (the same filter with `cached=false`, which the rollup cannot
//! serve) on every count and on the cost, per day, model, key and provider; its latency
//! percentiles are bucket bounds at or above the exact ones. The migrations that fill the
//! rollups from existing logs give the rows the writer gives. `/api/me` and
//! `/api/organizations` tell a member who they are.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, openai_stream, spawn_gateway, Gateway};

both!(
    the_rollup_agrees_with_the_logs,
    a_member_is_told_who_they_are
);

async fn summary(g: &Gateway, project: &str, query: &str) -> Vec<Value> {
    let path = format!("/api/projects/{project}/usage-summary?{query}");
    let r = g.t.get(&path, ADMIN).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["groups"].as_array().cloned().unwrap_or_default()
}

async fn the_rollup_agrees_with_the_logs(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("Hi.", 12, 3)).await;
    g.answer_stream("openai", openai_stream(&["Hel", "lo"], 9, 2))
        .await;
    let a = g.tenant("credits", 5.0, &[], None).await;
    // A second key of the same project.
    let r =
        g.t.post(
            &format!("/api/projects/{}/keys", a.project),
            ADMIN,
            json!({}),
        )
        .await;
    let second = r.body["token"].as_str().unwrap().to_string();
    for (token, model, stream) in [
        (&a.token, "gpt-4o-mini", false),
        (&a.token, "gpt-4o-mini", true),
        (&a.token, "gpt-4o", false),
        (&second, "gpt-4o", true),
        (&second, "gpt-4o-mini", false),
    ] {
        let mut body = ask(model);
        if stream {
            body["stream"] = json!(true);
        }
        let r = g.chat(token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // A refused request is counted as an error.
    let r = g.chat(&a.token, ask("no-such-model")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    g.usage_logs(&a.project, 6).await;

    let today = chrono::Utc::now().format("%Y-%m-%d");
    let range = format!("since={today}T00:00:00Z&until={today}T23:59:59Z");
    for by in ["day", "model", "key", "provider"] {
        let rolled = summary(&g, &a.project, &format!("group_by={by}&{range}")).await;
        let scanned = summary(
            &g,
            &a.project,
            &format!("group_by={by}&{range}&cached=false"),
        )
        .await;
        assert_eq!(rolled.len(), scanned.len(), "{by}: {rolled:?} {scanned:?}");
        for (r, s) in rolled.iter().zip(&scanned) {
            for field in [
                "group",
                "requests",
                "prompt_tokens",
                "completion_tokens",
                "cost_usd",
                "error_rate",
            ] {
                assert_eq!(r[field], s[field], "{by} {field}: {r} {s}");
            }
            for p in [
                "latency_p50_ms",
                "latency_p95_ms",
                "ttft_p50_ms",
                "ttft_p95_ms",
            ] {
                assert!(r[p].as_i64() >= s[p].as_i64(), "{by} {p}: {r} {s}");
            }
        }
    }
    // A key's days come from the rollup with keys; the same as its logs.
    let key = &a.key_id;
    let keyed = summary(
        &g,
        &a.project,
        &format!("group_by=day&key_id={key}&{range}"),
    )
    .await;
    let scanned = summary(
        &g,
        &a.project,
        &format!("group_by=day&key_id={key}&{range}&cached=false"),
    )
    .await;
    assert_eq!(keyed[0]["requests"], 4, "{keyed:?}");
    assert_eq!(keyed[0]["requests"], scanned[0]["requests"]);
    assert_eq!(keyed[0]["cost_usd"], scanned[0]["cost_usd"]);
    the_migrations_fill_what_the_writer_wrote(&g).await;
    let all = summary(&g, &a.project, "group_by=model").await;
    let requests: i64 = all.iter().map(|g| g["requests"].as_i64().unwrap()).sum();
    assert_eq!(requests, 6);
    let streamed = summary(&g, &a.project, "group_by=day").await;
    assert!(
        streamed[0]["ttft_p50_ms"].as_i64().unwrap() > 0,
        "{streamed:?}"
    );
}

/// Every row of `table`, its key columns then its counts, in key order.
async fn rollup_rows(db: &tollgate_projections::Db, table: &str, keys: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let counts = tollgate_projections::rollup::count_columns();
    let sql = format!(
        "SELECT {keys}, {} FROM {table} ORDER BY {keys}",
        counts.join(", ")
    );
    let rows = sqlx::query(&sql).fetch_all(&db.any).await.unwrap();
    let n_keys = keys.split(',').count();
    rows.iter()
        .map(|r| {
            let mut v: Vec<String> = (0..n_keys).map(|i| r.get::<String, _>(i)).collect();
            v.extend((n_keys..n_keys + counts.len()).map(|i| r.get::<i64, _>(i).to_string()));
            v
        })
        .collect()
}

/// Empties both rollups and runs the migrations' fill statements (from the logs, then from
/// the first rollup): the rows must be the ones the writer had kept.
async fn the_migrations_fill_what_the_writer_wrote(g: &Gateway) {
    let db = &g.t.app.db;
    let keyed = "project_id, day, key_id, model, provider";
    let totals = "project_id, day, model, provider";
    let written = (
        rollup_rows(db, "rm_usage_daily", keyed).await,
        rollup_rows(db, "rm_usage_daily_totals", totals).await,
    );
    assert!(!written.0.is_empty() && !written.1.is_empty());
    assert!(written.0.len() > written.1.len(), "{written:?}");
    let store = if db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/migrations")
        .join(store);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with("_usage_daily.sql") || name.ends_with("_usage_daily_totals.sql")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    sqlx::query("DELETE FROM rm_usage_daily_totals")
        .execute(&db.any)
        .await
        .unwrap();
    sqlx::query("DELETE FROM rm_usage_daily")
        .execute(&db.any)
        .await
        .unwrap();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap();
        let fill = &sql[sql.find("INSERT INTO").expect("a fill statement")..];
        sqlx::query(fill).execute(&db.any).await.unwrap();
    }
    let filled = (
        rollup_rows(db, "rm_usage_daily", keyed).await,
        rollup_rows(db, "rm_usage_daily_totals", totals).await,
    );
    assert_eq!(filled, written);
}

async fn a_member_is_told_who_they_are(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let org = g.t.org("Acme").await;
    let other = g.t.org("Other").await;
    let (id, token) = g.t.member(&org, "dev@acme.test", "developer").await;
    let me = g.t.get("/api/me", &token).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["id"], id.as_str());
    assert_eq!(me.body["role"], "developer");
    assert_eq!(me.body["organization_id"], org.as_str());
    assert_eq!(me.body["email"], "dev@acme.test");
    let listed = g.t.get("/api/organizations", &token).await;
    let ids: Vec<&str> = listed.body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [org.as_str()], "a member sees only their own");
    let all = g.t.get("/api/organizations", ADMIN).await;
    assert_eq!(all.body["organizations"].as_array().unwrap().len(), 2);
    assert!(all.body.to_string().contains(&other));
    assert_eq!(g.t.get("/api/me", ADMIN).await.body["role"], "admin");
    assert_eq!(
        g.t.get("/api/me", "tg-wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
}
