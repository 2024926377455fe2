//! tollgate-bench: the gateway against the direct path to a mock provider, on SQLite and on
//! Postgres, with the figures BENCHMARKS.md reports. Run it with
//! `cargo run --release -p tollgate-bench` (`--smoke` for a seconds-long check).
#![forbid(unsafe_code)]

// mimalloc: less fragmentation and lower RSS than glibc's malloc under many threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod dashboard;
mod load;
mod nginx;
mod probe;
mod procs;
mod rebuild;
mod report;
mod streams;

use std::sync::Arc;
use std::time::Duration;

use load::{drive, median, Stats, Target};
use procs::{free_port, start, terminate};
use serde_json::{json, Value};

const ADMIN: &str = "bench-admin-token";
const SECRET_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Duration,
    pub repeats: usize,
    pub stores: Vec<String>,
    pub rebuild_events: usize,
    pub connections: Vec<usize>,
    pub gateway_workers: usize,
    /// Requests per second offered in the open-loop cache-hit phase.
    pub paced_rate: f64,
    /// Only the store figures (projection rebuild, audit pages).
    pub rebuild_only: bool,
    /// The limits the benchmark key carries (`--key-limits`).
    pub key_limits: KeyLimits,
}

/// The limits the benchmark key carries, none of them near: the benchmark pays for checking
/// them, never for a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLimits {
    /// `none`: to see what the limits cost.
    None,
    /// `period-and-rate` (the default): a monthly budget and both rate limits.
    PeriodAndRate,
    /// `every`: those and a lifetime limit (on Postgres one more counter shared by replicas).
    Every,
}

impl KeyLimits {
    fn parse(v: Option<String>) -> Self {
        match v.as_deref() {
            Some("none") => Self::None,
            Some("every") => Self::Every,
            None | Some("period-and-rate") => Self::PeriodAndRate,
            Some(other) => {
                eprintln!("--key-limits: none, period-and-rate or every, not {other}");
                std::process::exit(2)
            }
        }
    }

    /// The key's limits in `POST /api/projects/{id}/keys`.
    fn body(self) -> Value {
        let mut body = json!({
            "period_limit_usd": 1_000_000,
            "period": "month",
            "rate_limits": {
                "requests_per_minute": 1_000_000_000u64,
                "tokens_per_minute": 1_000_000_000_000u64,
            },
        });
        match self {
            Self::None => json!({}),
            Self::PeriodAndRate => body,
            Self::Every => {
                body["usage_limit_usd"] = json!(1_000_000);
                body
            }
        }
    }
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let smoke = args.iter().any(|a| a == "--smoke");
    Options {
        duration: Duration::from_millis(
            value("--duration-ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(if smoke { 200 } else { 5000 }),
        ),
        repeats: value("--repeats")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if smoke { 1 } else { 3 }),
        stores: value("--stores").map_or_else(
            || {
                if smoke {
                    vec!["sqlite".into()]
                } else {
                    vec!["postgres".into(), "sqlite".into()]
                }
            },
            |v| v.split(',').map(str::to_string).collect(),
        ),
        rebuild_events: value("--rebuild-events")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if smoke { 2_000 } else { 1_000_000 }),
        connections: value("--connections").map_or_else(
            || vec![1, 32, 256],
            |v| v.split(',').filter_map(|c| c.parse().ok()).collect(),
        ),
        rebuild_only: args.iter().any(|a| a == "--rebuild-only"),
        key_limits: KeyLimits::parse(value("--key-limits")),
        paced_rate: value("--paced-rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5_000.0),
        gateway_workers: value("--gateway-workers")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child roles: this binary is also the mock provider and the gateway under test.
    if let (Some(role), Some(port)) = (args.get(1), args.get(2)) {
        if role == "--serve-mock" || role == "--serve-gateway" {
            return serve_role(role, port);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.iter().any(|a| a == "--probe") {
        if let Err(e) = rt.block_on(probe::run(&args)) {
            eprintln!("tollgate-bench: {e}");
            std::process::exit(2);
        }
        return;
    }
    rt.block_on(run(options()));
}

fn serve_role(role: &str, port: &str) {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    let mut config = None;
    if role == "--serve-gateway" {
        // The gateway's runtime is sized as the real binary sizes it (`server.worker_threads`).
        let c = tollgate::config::Config::load().expect("config");
        rt.worker_threads(c.server.worker_threads);
        config = Some(c);
    }
    let rt = rt.enable_all().build().expect("runtime");
    rt.block_on(async {
        let listen = format!("127.0.0.1:{port}");
        if role == "--serve-mock" {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .expect("bind mock");
            let counters = Arc::new(tollgate::mock::Counters::default());
            let _ = axum::serve(
                listener,
                tollgate::mock::router(Default::default(), counters),
            )
            .await;
        } else if let Some(mut config) = config {
            config.server.listen = listen;
            let cli = tollgate::cli::Cli {
                command: Some(tollgate::cli::Command::Serve),
            };
            if let Err(e) = tollgate::cli::run(cli, config).await {
                eprintln!("gateway: {e:#}");
                std::process::exit(1);
            }
        }
    });
}

/// Connections of the closed-loop cache-hit phase (the report derives its mean latency from it).
pub const CACHE_CONNECTIONS: usize = 32;

/// Everything measured on one store.
#[derive(Debug, Default, Clone)]

pub struct Results {
    pub store: String,
    pub direct: Vec<(usize, Stats)>,
    /// nginx proxying to the mock (empty when nginx is not installed).
    pub nginx: Vec<(usize, Stats)>,
    pub gateway: Vec<(usize, Stats)>,
    pub cache_hit: Stats,
    /// Open loop at `Options::paced_rate` over 32 connections: cache hits, and the mock
    /// direct at the same rate.
    pub cache_hit_paced: Stats,
    pub direct_paced: Stats,
    /// Time to first token: all chunks at once, and paced 1 ms apart.
    pub ttft: streams::Ttft,
    pub ttft_paced: streams::Ttft,
    pub peak_rss_mib: f64,
    pub rss_streaming_mib: f64,
    /// Resident memory after the load phases, and their peak.
    pub rss_before_streams_mib: f64,
    pub load_peak_rss_mib: f64,
    /// The fresh gateway the streams run on, before them.
    pub rss_fresh_mib: f64,
    pub sent_through_gateway: u64,
    pub usage_records: i64,
    pub drained: bool,
    pub db_statements_per_request: f64,
    pub rebuild: Option<rebuild::RebuildResult>,
}

async fn repeated(t: &Target, conns: usize, o: &Options) -> Stats {
    let mut runs = Vec::new();
    for _ in 0..o.repeats {
        runs.push(drive(t, conns, o.duration).await);
    }
    median(runs)
}

async fn admin(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let r = client
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .expect("management API");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("json")
}

/// Sums the `tollgate_db_queries_total` samples of a /metrics page.
async fn db_statements(client: &reqwest::Client, base: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map(|r| r.text());
    let Ok(text) = text else { return 0.0 };
    text.await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("tollgate_db_queries_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn run(o: Options) {
    println!("{}", report::machine());
    let mut all = Vec::new();
    for store in &o.stores {
        all.push(bench_store(store, &o).await);
    }
    println!("{}", report::table(&all, &o));
}

async fn bench_store(store: &str, o: &Options) -> Results {
    if o.rebuild_only {
        return Results {
            store: store.to_string(),
            rebuild: Some(rebuild_on_fresh(store, o.rebuild_events).await),
            ..Default::default()
        };
    }
    let database_url = rebuild::fresh_database(store).await;
    let spool = std::env::temp_dir().join(format!("tollgate-bench-spool-{}", uuid::Uuid::new_v4()));
    let mock_port = free_port();
    let mock = start("--serve-mock", mock_port, &[], "/stats").await;
    let port = free_port();
    let env = [
        ("TOLLGATE_DATABASE_URL", database_url.clone()),
        ("TOLLGATE_ADMIN_TOKEN", ADMIN.to_string()),
        ("TOLLGATE_SECRET_KEY", SECRET_KEY.to_string()),
        (
            "TOLLGATE_PROVIDER_OPENAI_API_KEY",
            "bench-upstream-key".to_string(),
        ),
        (
            "TOLLGATE_PROVIDER_OPENAI_BASE_URL",
            format!("{}/v1", mock.base),
        ),
        // `TOLLGATE_BENCH_LOG=info` measures the gateway as deployed, access log included.
        (
            "RUST_LOG",
            std::env::var("TOLLGATE_BENCH_LOG").unwrap_or_else(|_| "warn".to_string()),
        ),
        ("TOLLGATE_WORKER_THREADS", o.gateway_workers.to_string()),
        // A spool of this run's own: one left by an earlier run (killed) must not be
        // replayed into this fresh database.
        ("TOLLGATE_SPOOL_DIR", spool.display().to_string()),
    ];
    let mut gateway = start("--serve-gateway", port, &env, "/readyz").await;
    let pid = gateway.child.id();
    let client = reqwest::Client::new();
    let base = gateway.base.clone();
    let org = admin(
        &client,
        &base,
        "/api/organizations",
        json!({"name": "bench"}),
    )
    .await;
    let org = org["id"].as_str().unwrap_or_default().to_string();
    admin(
        &client,
        &base,
        &format!("/api/organizations/{org}/credits"),
        json!({"amount_usd": 1_000_000, "reference": "bench"}),
    )
    .await;
    let limits = o.key_limits.body();
    let key_for = |caching: bool| {
        let (client, base, org, limits) =
            (client.clone(), base.clone(), org.clone(), limits.clone());
        async move {
            let p = admin(&client, &base, "/api/projects", json!({"organization_id": org, "name": "bench", "mode": "credits", "caching_enabled": caching, "cache_duration_seconds": 3600})).await;
            let k = admin(
                &client,
                &base,
                &format!(
                    "/api/projects/{}/keys",
                    p["id"].as_str().unwrap_or_default()
                ),
                limits,
            )
            .await;
            k["token"].as_str().unwrap_or_default().to_string()
        }
    };
    let (token, cached_token) = (key_for(false).await, key_for(true).await);

    let body = Arc::new(json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}], "max_tokens": 64}).to_string());
    let direct = Target {
        url: format!("{}/v1/chat/completions", mock.base),
        token: "bench-upstream-key".into(),
        body: body.clone(),
        headers: vec![],
    };
    let through = Target {
        url: format!("{base}/v1/chat/completions"),
        token: token.clone(),
        body: body.clone(),
        headers: vec![],
    };
    let mut r = Results {
        store: store.to_string(),
        ..Default::default()
    };
    let nginx = nginx::start(&mock.base).await;
    let mut sent = 0;
    let via_nginx = nginx.as_ref().map(|n| Target {
        url: format!("{}/v1/chat/completions", n.base),
        ..direct.clone()
    });
    for &conns in &o.connections {
        // Interleaved (direct, nginx, tollgate in each repeat): a slow spell of this shared
        // machine then falls on all three, not on one of them, and the ratios stay fair.
        let before = db_statements(&client, &base).await;
        let (mut d, mut n, mut g) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..o.repeats.max(1) {
            d.push(drive(&direct, conns, o.duration).await);
            if let Some(via) = &via_nginx {
                n.push(drive(via, conns, o.duration).await);
            }
            g.push(drive(&through, conns, o.duration).await);
        }
        r.direct.push((conns, median(d)));
        if !n.is_empty() {
            r.nginx.push((conns, median(n)));
        }
        let stats = median(g);
        if conns == 32 {
            let after = db_statements(&client, &base).await;
            r.db_statements_per_request = (after - before) / stats.requests.max(1) as f64;
        }
        sent += stats.requests;
        r.gateway.push((conns, stats));
    }
    let cached = Target {
        token: cached_token,
        ..through.clone()
    };
    let warm = drive(&cached, 1, Duration::from_millis(50)).await;
    r.cache_hit = repeated(&cached, CACHE_CONNECTIONS, o).await;
    sent += warm.requests + r.cache_hit.requests;
    (r.direct_paced, r.cache_hit_paced) =
        load::paced_pair(&direct, &cached, o.paced_rate, o.duration, o.repeats).await;
    sent += r.cache_hit_paced.requests;

    let (ttft, ttft_paced, streamed) =
        streams::measure(&direct, &through, via_nginx.as_ref(), o.duration).await;
    (r.ttft, r.ttft_paced) = (ttft, ttft_paced);
    sent += streamed;
    drop(nginx);
    // 256 streams held open together (40 chunks, 25 ms apart: a second), memory sampled meanwhile.
    let slow = Target {
        // Knobs in the body: the gateway passes unknown fields on, not the client's headers.
        body: Arc::new(
            json!({"model": "gpt-4o-mini", "stream": true, "max_tokens": 64,
            "mock": {"chunks": 40, "chunk_delay_ms": 25},
            "messages": [{"role": "user", "content": "Stream to the benchmark."}]})
            .to_string(),
        ),
        ..through.clone()
    };
    // The load phases leave freed memory in the allocator: their peak is reported as such,
    // and the streams run on a fresh gateway (same database), so their figure is theirs.
    r.rss_before_streams_mib = procs::rss_mib(pid).0;
    r.load_peak_rss_mib = procs::rss_mib(pid).1;
    let first_drained = terminate(&mut gateway);
    let mut gateway = start("--serve-gateway", port, &env, "/readyz").await;
    let pid = gateway.child.id();
    r.rss_fresh_mib = procs::rss_mib(pid).0;
    let sampler = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        for _ in 0..40 {
            peak = peak.max(procs::rss_mib(pid).0);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        peak
    });
    sent += load::concurrent_streams(&slow, 256).await;
    r.rss_streaming_mib = sampler.await.unwrap_or(0.0);
    r.peak_rss_mib = procs::rss_mib(pid).1;

    // Graceful drain: every request sent through the gateway must be one usage record.
    r.drained = first_drained && terminate(&mut gateway);
    r.sent_through_gateway = sent;
    r.usage_records = rebuild::usage_records(&database_url).await;
    rebuild::remove_database(&database_url).await;
    let _ = std::fs::remove_dir_all(&spool);
    drop(mock);
    // The rebuild gets a store of its own holding exactly the synthetic log, so its figure
    // does not depend on how much usage the load phases left.
    r.rebuild = Some(rebuild_on_fresh(store, o.rebuild_events).await);
    r
}

async fn rebuild_on_fresh(store: &str, events: usize) -> rebuild::RebuildResult {
    let url = rebuild::fresh_database(store).await;
    tollgate_projections::Db::connect(&url)
        .await
        .expect("database")
        .migrate()
        .await
        .expect("migrations");
    // A real organization and project (made through the API), so that the dashboard can
    // show the records' project afterwards.
    let spool = std::env::temp_dir().join(format!("tollgate-bench-spool-{}", uuid::Uuid::new_v4()));
    let (org, project) = dashboard::create_project(&url, &spool).await;
    let mut result = rebuild::measure(&url, &org, &project, events).await;
    let (first, last) = rebuild::record_days();
    result.usage_http_ms = dashboard::usage_page(&url, &spool, &project, (&first, &last)).await;
    rebuild::remove_database(&url).await;
    let _ = std::fs::remove_dir_all(&spool);
    result
}
