//! Prometheus metrics (`GET /metrics`): requests by route, status and provider, latency and the
//! gateway's own overhead (total minus upstream time), cache hits and misses, the usage queue
//! and its flushes, projector lag, and the database queries the proxy side makes. A leaf: the
//! callers hand it what they measured.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets from 10 µs to 30 s.
const BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder (installed once; later apps in the same process share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(h) => h,
            // Another recorder is installed: render an empty exporter rather than fail.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The handles one kind of request records into.
struct RequestHandles {
    total: metrics::Counter,
    duration: metrics::Histogram,
    overhead: metrics::Histogram,
}

fn request_handles(route: &'static str, status: u16, provider: &str) -> RequestHandles {
    let labels = [
        ("route", route.to_string()),
        ("status", status.to_string()),
        ("provider", provider.to_string()),
    ];
    RequestHandles {
        total: metrics::counter!("tollgate_requests_total", &labels),
        duration: metrics::histogram!("tollgate_request_duration_seconds", "route" => route),
        overhead: metrics::histogram!("tollgate_overhead_seconds", "route" => route),
    }
}

/// Handles already looked up, per thread: registering labels on every request (allocating
/// and hashing them) was a visible share of the request path. Few kinds exist (routes x
/// statuses x providers); past the bound they are looked up each time.
const CACHED_KINDS: usize = 256;

/// Route, status and provider.
type Kind = (&'static str, u16, String);

thread_local! {
    static HANDLES: std::cell::RefCell<Vec<(Kind, RequestHandles)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// One proxied request, when it is finished.
pub fn request(
    route: &'static str,
    status: u16,
    provider: &str,
    total: Duration,
    upstream: Duration,
) {
    let record = |h: &RequestHandles| {
        h.total.increment(1);
        h.duration.record(total.as_secs_f64());
        h.overhead
            .record(total.saturating_sub(upstream).as_secs_f64());
    };
    HANDLES.with_borrow_mut(|cached| {
        let found = cached
            .iter()
            .find(|((r, s, p), _)| *s == status && *r == route && p == provider);
        match found {
            Some((_, h)) => record(h),
            None => {
                let h = request_handles(route, status, provider);
                record(&h);
                if cached.len() < CACHED_KINDS {
                    cached.push(((route, status, provider.to_string()), h));
                }
            }
        }
    });
}

pub fn cache(hit: bool) {
    if hit {
        metrics::counter!("tollgate_cache_hits_total").increment(1);
    } else {
        metrics::counter!("tollgate_cache_misses_total").increment(1);
    }
}

/// Database statements issued by `component` (the proxy's hot path issues none).
pub fn db_queries(component: &'static str, n: u64) {
    metrics::counter!("tollgate_db_queries_total", "component" => component).increment(n);
}

pub fn usage_flush(records: usize, took: Duration, queue_depth: usize) {
    metrics::counter!("tollgate_usage_records_written_total").increment(records as u64);
    metrics::histogram!("tollgate_usage_flush_seconds").record(took.as_secs_f64());
    metrics::gauge!("tollgate_usage_queue_depth").set(queue_depth as f64);
}

/// The exposition text, with the gauges only the caller can read (the projector's lag behind
/// the log, when the log could be read, and the usage queue's depth) set first.
pub fn render(projector_lag: Option<i64>, usage_queue_depth: usize) -> String {
    if let Some(lag) = projector_lag {
        metrics::gauge!("tollgate_projector_lag_events").set(lag.max(0) as f64);
    }
    metrics::gauge!("tollgate_usage_queue_depth").set(usage_queue_depth as f64);
    handle().render()
}

/// A connection refused because the server holds as many as it may.
pub fn connection_refused() {
    metrics::counter!("tollgate_connections_refused_total").increment(1);
}
