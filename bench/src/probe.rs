//! `--probe URL`: drives one running server (no setup, no report) and prints its figures,
//! for profiling a single phase by hand (`perf`, `strace`) while it runs.
//!   tollgate-bench --probe http://127.0.0.1:8080/v1/chat/completions --token sk-...
//!     [--connections 32] [--duration-ms 5000] [--rate 5000] (open loop when given)

use std::sync::Arc;
use std::time::Duration;

use crate::load::{drive, drive_at_rate, Target};

/// Runs the probe; a missing URL or a value that does not parse is an error (nothing runs).
pub async fn run(args: &[String]) -> Result<(), String> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    fn parsed<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<Option<T>, String> {
        v.map(|v| v.parse().map_err(|_| format!("{name}: not a number: {v}")))
            .transpose()
    }
    let url = value("--probe").ok_or("--probe needs a URL")?;
    let body = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}], "max_tokens": 64}"#;
    let target = Target {
        url,
        token: value("--token").unwrap_or_default(),
        body: Arc::new(value("--body").unwrap_or_else(|| body.to_string())),
        headers: vec![],
    };
    // One connection count here, not the main mode's list.
    let conns: usize = parsed("--connections", value("--connections"))?.unwrap_or(32);
    let millis: u64 = parsed("--duration-ms", value("--duration-ms"))?.unwrap_or(5000);
    let rate: Option<f64> = parsed("--rate", value("--rate"))?;
    if conns == 0 {
        return Err("--connections must be at least 1".into());
    }
    let duration = Duration::from_millis(millis);
    let stats = match rate {
        Some(rate) => drive_at_rate(&target, conns, rate, duration).await,
        None => drive(&target, conns, duration).await,
    };
    println!(
        "{} requests ({} errors), {:.0} req/s, p50 {:.0} µs, p99 {:.0} µs",
        stats.requests, stats.errors, stats.rps, stats.p50_us, stats.p99_us
    );
    Ok(())
}
