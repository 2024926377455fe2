//! The load generator: N connections sending one request each, back to back (closed loop) or
//! on a schedule (open loop), for a while; latencies kept in full (sorted for percentiles).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub token: String,
    pub body: Arc<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

pub fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .tcp_nodelay(true)
        .build()
        .expect("http client")
}

fn request(client: &reqwest::Client, t: &Target) -> reqwest::RequestBuilder {
    let mut req = client
        .post(&t.url)
        .bearer_auth(&t.token)
        .header("content-type", "application/json")
        .body(t.body.as_ref().clone());
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    req
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    f64::from(sorted[rank.min(sorted.len()) - 1])
}

/// Drives `conns` connections against `t` for `duration`; latencies in microseconds.
pub async fn drive(t: &Target, conns: usize, duration: Duration) -> Stats {
    let client = client(conns);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers = (0..conns).map(|_| {
        let (client, t) = (client.clone(), t.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                errors += u64::from(!send(&client, &t).await);
                latencies.push(micros(t0.elapsed()));
            }
            (latencies, errors)
        })
    });
    summarize(workers, started).await
}

/// Open loop: `conns` connections sending `rate` requests per second in all, each on a fixed
/// schedule, for `duration`. A request that waits for its connection (the one before it was
/// slow) is timed from when it was due, so a stall counts for every request it held up; one
/// the timer woke late is timed from when it was sent, as the timer's lateness is not the
/// server's. Closed-loop load (`drive`) saturates the machine, so its latency is mostly
/// queueing; this shows the latency at a load the machine can carry.
pub async fn drive_at_rate(t: &Target, conns: usize, rate: f64, duration: Duration) -> Stats {
    let client = client(conns);
    let started = Instant::now();
    let deadline = started + duration;
    // A rate that is not a positive number would never end or never start.
    let rate = if rate.is_finite() {
        rate.clamp(1.0, 1e6)
    } else {
        1e6
    };
    let every = Duration::from_secs_f64(conns as f64 / rate);
    let workers = (0..conns).map(|i| {
        let (client, t) = (client.clone(), t.clone());
        // Staggered, so the connections' requests are spread over each period.
        let mut due = started + every.mul_f64(i as f64 / conns as f64);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut free = started;
            while due < deadline {
                tokio::time::sleep_until(due.into()).await;
                let t0 = if free > due { due } else { Instant::now() };
                errors += u64::from(!send(&client, &t).await);
                free = Instant::now();
                latencies.push(micros(free - t0));
                due += every;
            }
            (latencies, errors)
        })
    });
    summarize(workers, started).await
}

/// Open loop over 32 connections, `a` and `b` taking turns `repeats` times: their medians.
pub async fn paced_pair(
    a: &Target,
    b: &Target,
    rate: f64,
    duration: Duration,
    repeats: usize,
) -> (Stats, Stats) {
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        ra.push(drive_at_rate(a, 32, rate, duration).await);
        rb.push(drive_at_rate(b, 32, rate, duration).await);
    }
    (median(ra), median(rb))
}

/// Each figure's median over the runs (requests and errors summed).
pub fn median(mut runs: Vec<Stats>) -> Stats {
    let mid = runs.len() / 2;
    let pick = |f: fn(&Stats) -> f64, runs: &mut Vec<Stats>| {
        runs.sort_by(|a, b| f(a).total_cmp(&f(b)));
        f(&runs[mid])
    };
    Stats {
        requests: runs.iter().map(|s| s.requests).sum(),
        errors: runs.iter().map(|s| s.errors).sum(),
        rps: pick(|s| s.rps, &mut runs),
        p50_us: pick(|s| s.p50_us, &mut runs),
        p99_us: pick(|s| s.p99_us, &mut runs),
    }
}

async fn send(client: &reqwest::Client, t: &Target) -> bool {
    match request(client, t).send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

async fn summarize(
    workers: impl Iterator<Item = tokio::task::JoinHandle<(Vec<u32>, u64)>>,
    started: Instant,
) -> Stats {
    let mut all = Vec::new();
    let mut errors = 0;
    for w in futures::future::join_all(workers).await {
        let (l, e) = w.expect("worker");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Stats {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / elapsed,
        p50_us: percentile(&all, 50.0),
        p99_us: percentile(&all, 99.0),
    }
}

/// Time to the first body bytes of `n` streamed requests per target, one at a time, the
/// targets taking turns (so a slow spell of the machine, or work a previous phase left
/// behind, falls on all of them); per target (p50, p99) in µs and requests sent.
pub async fn ttft(targets: &[&Target], n: usize) -> Vec<(f64, f64, u64)> {
    let clients: Vec<reqwest::Client> = targets.iter().map(|_| client(1)).collect();
    let mut samples: Vec<Vec<u32>> = targets.iter().map(|_| Vec::with_capacity(n)).collect();
    let mut sent = vec![0u64; targets.len()];
    for _ in 0..n {
        for (i, t) in targets.iter().enumerate() {
            let t0 = Instant::now();
            sent[i] += 1;
            let Ok(r) = request(&clients[i], t).send().await else {
                continue;
            };
            let mut body = r.bytes_stream();
            if let Some(Ok(_)) = body.next().await {
                samples[i].push(t0.elapsed().as_micros() as u32);
            }
            while body.next().await.is_some() {}
        }
    }
    samples
        .into_iter()
        .zip(sent)
        .map(|(mut s, sent)| {
            s.sort_unstable();
            (percentile(&s, 50.0), percentile(&s, 99.0), sent)
        })
        .collect()
}

/// `n` concurrent streamed requests held open, read to the end.
pub async fn concurrent_streams(t: &Target, n: usize) -> u64 {
    let client = client(n);
    let tasks = (0..n).map(|_| {
        let (client, t) = (client.clone(), t.clone());
        tokio::spawn(async move {
            if let Ok(r) = request(&client, &t).send().await {
                let mut body = r.bytes_stream();
                while body.next().await.is_some() {}
            }
        })
    });
    futures::future::join_all(tasks).await.len() as u64
}
