//! Store-side figures: a fresh database per run, usage records after the drain, and a
//! projection rebuild over a large synthetic log followed by audit-page queries.

use std::time::Instant;

use sqlx::{Connection, Row};
use tollgate_aggregates::usage::{PaidWith, UsageEvent, UsageRecord};
use tollgate_projections::read::{
    audit_page, usage_logs, usage_summary, AuditFilter, GroupBy, UsageFilter,
};
use tollgate_projections::{Db, Projector};

#[derive(Debug, Clone, Default)]
pub struct RebuildResult {
    pub events: i64,
    pub seconds: f64,
    pub audit_first_ms: f64,
    pub audit_deep_ms: f64,
    /// The queries of the dashboard's usage page over the one project holding every record
    /// (30 days: summaries per day, model, key and provider, and the first page of logs).
    pub usage_page_ms: f64,
    /// The same summaries forced onto a scan of the logs (a `cached` filter), for contrast.
    pub usage_scan_ms: f64,
    /// The whole usage page over HTTP (sign-in cookie, API calls, template) for those days.
    pub usage_http_ms: f64,
}

/// Where the benchmark's Postgres databases are created.
fn postgres_admin_url() -> String {
    // Loopback, as a gateway beside its database: without TLS, which the client would
    // otherwise negotiate (Debian's server offers it) for nothing but cost.
    std::env::var("TOLLGATE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into())
}

/// A new empty database for `store` (`sqlite` or `postgres`); `remove_database` drops it.
pub async fn fresh_database(store: &str) -> String {
    // A run makes several in the same second: the sequence number keeps them apart.
    static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stamp = format!(
        "{}_{}_{n}",
        chrono::Utc::now().timestamp(),
        std::process::id()
    );
    if store == "postgres" {
        let admin = postgres_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("Postgres for the benchmark");
        let name = format!("tollgate_bench_{stamp}");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let (url, query) = admin
            .split_once('?')
            .map_or((admin.as_str(), None), |(u, q)| (u, Some(q)));
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    } else {
        let dir = std::env::temp_dir().join(format!("tollgate-bench-{stamp}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        format!("sqlite://{}/bench.db", dir.display())
    }
}

/// Drops a database `fresh_database` made (best effort: a leftover only costs disk), once
/// nothing uses it any more.
pub async fn remove_database(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(path).parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        return;
    }
    let name = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(_, n)| n);
    let Some(name) = name.filter(|n| n.starts_with("tollgate_bench_")) else {
        return;
    };
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = sqlx::query(&drop).execute(&mut conn).await {
            eprintln!("benchmark database {name} not dropped: {e}");
        }
    }
}

/// Usage records in the log (each `UsageRecorded` event holds a batch of them).
pub async fn usage_records(url: &str) -> i64 {
    let db = Db::connect(url).await.expect("database");
    let Ok(rows) =
        sqlx::query("SELECT CAST(payload AS TEXT) AS p FROM events WHERE aggregate_type = 'Usage'")
            .fetch_all(&db.any)
            .await
    else {
        return -1;
    };
    rows.iter()
        .filter_map(|r| serde_json::from_str::<UsageEvent>(&r.get::<String, _>("p")).ok())
        .map(|UsageEvent::UsageRecorded { records }| records.len() as i64)
        .sum()
}

const MODELS: [&str; 3] = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5"];
/// 2023-11-15 00:00 UTC, and the µs between records: a million records span 30 days.
const START: i64 = 1_700_006_400_000_000;
const SPACING: i64 = 2_592_000;

fn record(org: &str, project: &str, i: usize) -> String {
    let r = UsageRecord {
        request_id: format!("bench-{i}"),
        organization_id: org.to_string(),
        // One project holds every record (the dashboard's worst case), over 30 days.
        project_id: project.to_string(),
        key_id: format!("key-{}", i % 100),
        endpoint: "chat".into(),
        requested_model: MODELS[i % 3].into(),
        model: MODELS[i % 3].into(),
        provider: "openai".into(),
        paid_with: PaidWith::OwnKey,
        prompt_tokens: 12,
        completion_tokens: 8,
        cached_tokens: 0,
        reasoning_tokens: 0,
        cost_nano_usd: 6_600,
        fee_nano_usd: 0,
        estimated: false,
        cached: false,
        streamed: i.is_multiple_of(3),
        status: 200,
        error_code: None,
        latency_ms: 3 + (i % 700) as u64,
        time_to_first_token_ms: i.is_multiple_of(3).then_some(2 + (i % 300) as u64),
        started_at: START + i as i64 * SPACING,
        cache_creation_tokens: 0,
    };
    serde_json::to_string(&UsageEvent::UsageRecorded { records: vec![r] }).unwrap_or_default()
}

/// Appends `n` usage events, rebuilds every read model from the whole log, then times audit
/// pages (first page, and one from the middle) for the organization.
pub async fn measure(url: &str, org: &str, project: &str, n: usize) -> RebuildResult {
    let db = Db::connect(url).await.expect("database");
    let json = if db.is_postgres() {
        "CAST(${} AS json)"
    } else {
        "${}"
    };
    let mut written = 0;
    while written < n {
        let mut tx = db.any.begin().await.expect("tx");
        for _ in 0..10 {
            let rows = 500.min(n - written);
            if rows == 0 {
                break;
            }
            let mut sql = String::from("INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES ");
            for r in 0..rows {
                let p = r * 2;
                if r > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('Usage', 'bench-stream', ${}, 'UsageRecorded', '1.0', {}, {})",
                    p + 1,
                    json.replace("{}", &(p + 2).to_string()),
                    "'{}'"
                ));
            }
            let mut q = sqlx::query(&sql);
            for r in 0..rows {
                q = q
                    .bind((written + r + 1) as i64)
                    .bind(record(org, project, written + r));
            }
            q.execute(&mut *tx).await.expect("insert events");
            written += rows;
        }
        tx.commit().await.expect("commit");
    }
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&db.any)
        .await
        .map(|r| r.get("n"))
        .unwrap_or(0);
    let projector = Projector::new(db.clone());
    let started = Instant::now();
    projector.rebuild().await.expect("rebuild");
    let seconds = started.elapsed().as_secs_f64();
    let time_page = |cursor: Option<i64>| {
        let db = db.clone();
        let filter = AuditFilter {
            organization_id: Some(org.to_string()),
            cursor,
            limit: 50,
            ..Default::default()
        };
        async move {
            let mut times = Vec::new();
            for _ in 0..7 {
                let t = Instant::now();
                let (page, _) = audit_page(&db, &filter).await.expect("audit page");
                assert!(!page.is_empty() || total < 100);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        }
    };
    RebuildResult {
        events: total,
        seconds,
        audit_first_ms: time_page(None).await,
        audit_deep_ms: time_page(Some(total / 2)).await,
        usage_page_ms: usage_page(&db, project, None).await,
        usage_scan_ms: usage_page(&db, project, Some(false)).await,
        usage_http_ms: 0.0,
    }
}

/// The records' first and last day (`YYYY-MM-DD`).
pub fn record_days() -> (String, String) {
    let day = tollgate_projections::rollup::day_of;
    (day(START), day(START + 29 * 86_400_000_000))
}

/// The median time (ms, of 5) of the usage page's queries for `project` over its 30 days,
/// run at once as the page runs them.
async fn usage_page(db: &Db, project: &str, cached: Option<bool>) -> f64 {
    const DAY: i64 = 86_400_000_000;
    let filter = UsageFilter {
        project_id: project.to_string(),
        cached,
        since: Some(START),
        until: Some(START + 31 * DAY - 1),
        limit: 50,
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let kinds = [
            GroupBy::Day,
            GroupBy::Model,
            GroupBy::Key,
            GroupBy::Provider,
        ];
        if cached.is_some() {
            // The scan holds a connection for seconds per query: one after another.
            for by in kinds {
                usage_summary(db, &filter, by).await.expect("usage summary");
            }
        } else {
            // As the page asks them: the five reads at once.
            let summaries = kinds.map(|by| usage_summary(db, &filter, by));
            let (summaries, logs) = tokio::join!(
                futures::future::join_all(summaries),
                usage_logs(db, &filter)
            );
            for groups in summaries {
                assert!(!groups.expect("usage summary").is_empty());
            }
            logs.expect("usage logs");
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if cached.is_some() {
            // The scan is slow and its figure only a contrast: once is enough.
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
