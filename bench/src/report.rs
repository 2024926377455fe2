//! The printed results: the machine, then one table per store, Markdown so it can go
//! straight into BENCHMARKS.md.

use crate::{Options, Results, CACHE_CONNECTIONS};

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("machine: {model}, {cores} cores, {mem:.0} GiB")
}

fn us(v: f64) -> String {
    format!("{v:.0} µs")
}

pub fn table(all: &[Results], o: &Options) -> String {
    let mut out = format!(
        "\nruns: {} x {:.1} s per figure (medians)\n",
        o.repeats,
        o.duration.as_secs_f64()
    );
    for r in all {
        out += &format!("\n### {}\n\n| connections | direct req/s | direct p50 | direct p99 | tollgate req/s | tollgate p50 | tollgate p99 | ratio |\n|---|---|---|---|---|---|---|---|\n", r.store);
        for ((conns, d), (_, g)) in r.direct.iter().zip(&r.gateway) {
            out += &format!(
                "| {conns} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2}x |\n",
                d.rps,
                us(d.p50_us),
                us(d.p99_us),
                g.rps,
                us(g.p50_us),
                us(g.p99_us),
                g.rps / d.rps.max(1.0)
            );
        }
        if !r.nginx.is_empty() {
            out += "\nnginx (reverse proxy to the same mock, same run):\n\n| connections | nginx req/s | nginx p50 | nginx p99 | nginx/direct | tollgate/nginx |\n|---|---|---|---|---|---|\n";
            for (((conns, d), (_, n)), (_, g)) in r.direct.iter().zip(&r.nginx).zip(&r.gateway) {
                out += &format!(
                    "| {conns} | {:.0} | {} | {} | {:.2}x | {:.2}x |\n",
                    n.rps,
                    us(n.p50_us),
                    us(n.p99_us),
                    n.rps / d.rps.max(1.0),
                    g.rps / n.rps.max(1.0)
                );
            }
            if let (Some((_, d)), Some((_, n))) = (r.direct.first(), r.nginx.first()) {
                out += &format!(
                    "\n- nginx's added latency at 1 connection: p50 {}, p99 {}\n",
                    us(n.p50_us - d.p50_us),
                    us(n.p99_us - d.p99_us)
                );
            }
        }
        if let (Some((_, d)), Some((_, g))) = (r.direct.first(), r.gateway.first()) {
            out += &format!(
                "\n- added latency at 1 connection: p50 {}, p99 {}\n",
                us(g.p50_us - d.p50_us),
                us(g.p99_us - d.p99_us)
            );
        }
        // In a closed loop every connection waits for its answer before it sends again, so
        // the mean latency is connections / throughput (Little's law), and a p99 is at least
        // that mean: printed so that the p99 is read against what the load allows.
        out += &format!(
            "- cache hit at {n} connections: {:.0} req/s, p50 {}, p99 {} (closed loop: mean latency {n} / throughput = {})\n",
            r.cache_hit.rps,
            us(r.cache_hit.p50_us),
            us(r.cache_hit.p99_us),
            us(CACHE_CONNECTIONS as f64 * 1e6 / r.cache_hit.rps.max(1.0)),
            n = CACHE_CONNECTIONS
        );
        out += &format!(
            "- cache hit at {:.0} req/s offered over 32 connections (open loop; {:.0} req/s served, {} errors): p50 {}, p99 {}; direct to the mock at that rate: p50 {}, p99 {} (added p50 {}, p99 {})\n",
            o.paced_rate,
            r.cache_hit_paced.rps,
            r.cache_hit_paced.errors + r.direct_paced.errors,
            us(r.cache_hit_paced.p50_us),
            us(r.cache_hit_paced.p99_us),
            us(r.direct_paced.p50_us),
            us(r.direct_paced.p99_us),
            us(r.cache_hit_paced.p50_us - r.direct_paced.p50_us),
            us(r.cache_hit_paced.p99_us - r.direct_paced.p99_us)
        );
        for (what, t) in [
            ("all chunks at once", &r.ttft),
            ("chunks 1 ms apart", &r.ttft_paced),
        ] {
            out += &format!(
                "- streaming time to first token ({what}): direct p50 {} / p99 {}, through tollgate p50 {} / p99 {} (added p50 {})",
                us(t.direct.0), us(t.direct.1), us(t.gateway.0), us(t.gateway.1), us(t.gateway.0 - t.direct.0)
            );
            if let Some((n50, n99)) = t.nginx {
                out += &format!(
                    "; through nginx p50 {} / p99 {} (added p50 {})",
                    us(n50),
                    us(n99),
                    us(n50 - t.direct.0)
                );
            }
            out.push('\n');
        }
        out += &format!(
            "- tollgate RSS with 256 concurrent streams (fresh gateway, {:.1} MiB before): {:.1} MiB during, peak {:.1} MiB\n- tollgate RSS of the gateway that ran the load phases: {:.1} MiB after them, peak {:.1} MiB\n",
            r.rss_fresh_mib, r.rss_streaming_mib, r.peak_rss_mib, r.rss_before_streams_mib, r.load_peak_rss_mib
        );
        out += &format!(
            "- database statements per request (32 connections, from /metrics): {:.3}\n",
            r.db_statements_per_request
        );
        out += &format!(
            "- graceful drain: {} ; usage records {} of {} requests sent{}\n",
            if r.drained { "clean exit" } else { "NOT clean" },
            r.usage_records,
            r.sent_through_gateway,
            if r.usage_records == r.sent_through_gateway as i64 {
                " (equal)"
            } else {
                " (DIFFERENT)"
            }
        );
        if let Some(b) = &r.rebuild {
            out += &format!(
                "- projection rebuild: {} events in {:.2} s = {:.0} events/s; audit page: first {:.2} ms, middle {:.2} ms\n",
                b.events, b.seconds, b.events as f64 / b.seconds.max(1e-9), b.audit_first_ms, b.audit_deep_ms
            );
            out += &format!(
                "- dashboard usage page over those events' usage records, all in one project: its queries (4 summaries + logs page) {:.2} ms from the daily rollups ({:.0} ms as a scan of the logs); the whole page over HTTP {:.2} ms\n",
                b.usage_page_ms, b.usage_scan_ms, b.usage_http_ms
            );
        }
    }
    out
}
