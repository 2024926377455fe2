//! `--probe URL`: drives one running server (no setup, no report) and prints its figures,
//! for profiling a single phase by hand (`perf`, `strace`) while it runs.
//!   tollgate-bench --probe http://127.0.0.1:8080/v1/chat/completions --token sk-...
//!     [--connections 32] [--duration-ms 5000] [--rate 5000] (open loop when given)

use std::sync::Arc;
use std::time::Duration;

use crate::load::{drive, drive_at_rate, Target};

pub async fn run(args: &[String]) {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(url) = value("--probe") else {
        eprintln!("--probe needs a URL");
        return;
    };
    let body = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}], "max_tokens": 64}"#;
    let target = Target {
        url,
        token: value("--token").unwrap_or_default(),
        body: Arc::new(value("--body").unwrap_or_else(|| body.to_string())),
        headers: vec![],
    };
    let conns = value("--connections")
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let duration = Duration::from_millis(
        value("--duration-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000),
    );
    let stats = match value("--rate").and_then(|v| v.parse::<f64>().ok()) {
        Some(rate) => drive_at_rate(&target, conns, rate, duration).await,
        None => drive(&target, conns, duration).await,
    };
    println!(
        "{} requests ({} errors), {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs",
        stats.requests, stats.errors, stats.rps, stats.p50_us, stats.p99_us
    );
}
