//! Issue 16, point 1: counts that used to overflow the maximum-cost estimate (and so passed a
//! spend limit) are refused with a 400 naming the field; no request of any shape gets a 200
//! past the limit; refusals that a retry cannot fix say so (`x-should-retry: false`) and
//! state amounts exactly.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tollgate_aggregates::types::MAX_NANOS;
use tollgate_aggregates::usage::{PaidWith, UsageRecord};

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, openai_stream, spawn_gateway, Answer, Gateway};

both!(
    overflowing_counts_never_pass_the_limit,
    refusals_say_not_to_retry,
    embeddings_dimensions_are_bounded,
    extreme_recorded_costs_neither_wrap_nor_stop_the_projector
);

/// The key's spend (USD, fee included) once the usage log holds `n` of its requests.
async fn spend(g: &Gateway, project: &str, n: i64) -> f64 {
    for _ in 0..400 {
        let r =
            g.t.get(
                &format!("/api/projects/{project}/usage-summary?group_by=key"),
                ADMIN,
            )
            .await;
        let group = &r.body["groups"][0];
        if group["requests"].as_i64().unwrap_or(0) >= n {
            return group["cost_usd"].as_f64().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the usage summary never reached {n} requests");
}

fn with(field: &str, value: Value) -> Value {
    let mut body = ask("gpt-4o-mini");
    body[field] = value;
    body
}

fn assert_no_retry(r: &Answer) {
    assert_eq!(
        r.headers.get("x-should-retry").map(|v| v.to_str().unwrap()),
        Some("false"),
        "{} {}",
        r.status,
        r.text
    );
}

async fn overflowing_counts_never_pass_the_limit(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("ok", 10, 10)).await;
    g.answer_stream("openai", openai_stream(&["o", "k"], 10, 10))
        .await;
    // $0.00002: two small requests fit (10 + 10 tokens at 150 / 600 nano-USD, 5% fee).
    let tenant = g.tenant("credits", 1.0, &[], Some(0.00002)).await;
    let max = u64::MAX;
    let oversize: Vec<(Value, &str, &str)> = vec![
        (with("n", json!(1_000_000_000_000u64)), "n", "at most 128"),
        (with("n", json!(129)), "n", "at most 128"),
        (with("max_tokens", json!(max)), "max_tokens", "at most"),
        (
            with("max_completion_tokens", json!(max)),
            "max_completion_tokens",
            "at most",
        ),
        (
            with("max_completion_tokens", json!(1_000_000_000_000_000u64)),
            "max_completion_tokens",
            "at most",
        ),
        // Above the model's own maximum (16,384 for gpt-4o-mini), under the general one.
        (
            with("max_tokens", json!(16_385)),
            "max_tokens",
            "at most 16384",
        ),
        (
            with("max_completion_tokens", json!(-5)),
            "max_completion_tokens",
            "positive integer",
        ),
        (
            with("max_tokens", json!(-1)),
            "max_tokens",
            "positive integer",
        ),
        (with("n", json!(-1)), "n", "positive integer"),
        (
            with("max_tokens", json!(1e30)),
            "max_tokens",
            "positive integer",
        ),
        (with("n", json!(0)), "n", "positive integer"),
    ];
    // Within every bound, but their maximum cost is far above the limit.
    let mut streaming = with("n", json!(128));
    streaming["stream"] = json!(true);
    let too_costly = [
        with("n", json!(128)),
        with("max_tokens", json!(16_384)),
        streaming,
        {
            let mut b = with("max_completion_tokens", json!(16_384));
            b["n"] = json!(128);
            b
        },
    ];
    let small = with("max_tokens", json!(10));
    let mut ok = 0;
    let mut sent = 0;
    for round in 0..4 {
        for (body, param, message) in &oversize {
            let r = g.chat(&tenant.token, body.clone()).await;
            sent += 1;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
            assert_eq!(r.body["error"]["param"], *param, "{}", r.text);
            assert_eq!(r.body["error"]["type"], "invalid_request_error");
            let text = r.body["error"]["message"].as_str().unwrap();
            assert!(text.contains(message), "{text}");
            assert_no_retry(&r);
        }
        for body in &too_costly {
            let r = g.chat(&tenant.token, body.clone()).await;
            sent += 1;
            assert_eq!(
                r.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{body}: {}",
                r.text
            );
            assert_eq!(r.code(), "usage_limit_exceeded");
            assert_no_retry(&r);
        }
        let r = g.chat(&tenant.token, small.clone()).await;
        sent += 1;
        if r.status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(
                r.status,
                StatusCode::TOO_MANY_REQUESTS,
                "round {round}: {}",
                r.text
            );
        }
    }
    assert_eq!(ok, 2, "two small requests fit the limit, and only two");
    assert_eq!(
        g.received("/openai/v1/chat/completions").await.len(),
        2,
        "nothing else reached the provider"
    );
    let spent = spend(&g, &tenant.project, sent).await;
    assert!(spent <= 0.00002, "spent ${spent} past a $0.00002 limit");
    assert!(
        (spent - 2.0 * 7_500.0 * 1.05 / 1e9).abs() < 1e-12,
        "{spent}"
    );
}

async fn refusals_say_not_to_retry(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("ok", 10, 10)).await;
    let tenant = g.tenant("credits", 1.0, &[], Some(0.00002)).await;
    let small = with("max_tokens", json!(10));
    for _ in 0..2 {
        assert_eq!(
            g.chat(&tenant.token, small.clone()).await.status,
            StatusCode::OK
        );
    }
    let r = g.chat(&tenant.token, small.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_no_retry(&r);
    // The exact amounts: limit, spend (two requests of 7,875 nano-USD) and the hold.
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("usage limit of $0.00002 "), "{message}");
    assert!(message.contains("($0.00001575 spent"), "{message}");
    // Each refusal a retry cannot fix says so.
    let r = g.chat("sk-tg-not-a-key", small.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_no_retry(&r);
    let r = g.chat(&tenant.token, ask("no-such-model")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_no_retry(&r);
    // No credits left: 402, with the amounts exact.
    let poor = g.tenant("credits", 0.000001, &[], None).await;
    let r = g.chat(&poor.token, small).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text);
    assert_no_retry(&r);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("($0.000001 available)"), "{message}");
    // A success carries no such header.
    let fine = g.tenant("credits", 1.0, &[], None).await;
    let r = g.chat(&fine.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers.get("x-should-retry").is_none());
}

async fn embeddings_dimensions_are_bounded(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let ask = |dimensions: Value| json!({"model": "text-embedding-3-small", "input": "hi", "dimensions": dimensions});
    for (value, message) in [
        (json!(u64::MAX), "dimensions must be at most 65536"),
        (json!(65_537), "dimensions must be at most 65536"),
        (json!(0), "dimensions must be a positive integer"),
        (json!(-3), "dimensions must be a positive integer"),
        (json!("8"), "dimensions must be a positive integer"),
    ] {
        let r = g.post_v1("/v1/embeddings", &tenant.token, ask(value)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"]["param"], "dimensions");
        assert_eq!(r.body["error"]["message"], message);
        assert_no_retry(&r);
    }
    assert!(g.received("/openai/v1/embeddings").await.is_empty());
}

/// Records with costs at `i64`'s ends (written by a gateway before this fix, or another
/// replica) are summed within the money ceiling: the projector neither fails on a BIGINT
/// overflow nor stops, and the next request's record is projected after them.
async fn extreme_recorded_costs_neither_wrap_nor_stop_the_projector(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("ok", 10, 10)).await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let recorder = g.t.app.proxy.usage.recorder().expect("a usage writer");
    for (i, (cost, fee)) in [(i64::MAX, i64::MAX), (i64::MAX, 1), (i64::MIN, i64::MIN)]
        .into_iter()
        .enumerate()
    {
        recorder
            .record(UsageRecord {
                request_id: format!("extreme-{i}"),
                organization_id: tenant.org.clone(),
                project_id: tenant.project.clone(),
                key_id: tenant.key_id.clone(),
                endpoint: "chat".into(),
                model: "gpt-4o-mini".into(),
                provider: "openai".into(),
                paid_with: PaidWith::Credits,
                cost_nano_usd: cost,
                fee_nano_usd: fee,
                status: 200,
                started_at: chrono::Utc::now().timestamp_micros(),
                ..UsageRecord::default()
            })
            .await;
        // One batch each: the sums cross batches too.
        g.usage_logs(&tenant.project, i + 1).await;
    }
    // (This instance's ledger took its own records from its meters, not from these.)
    let r = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        g.usage_logs(&tenant.project, 4).await.len(),
        4,
        "projected after them"
    );
    let ceiling = MAX_NANOS as f64 / 1e9;
    // +max, +max, -max: never past the ceiling, never wrapped to a negative total.
    let spent = spend(&g, &tenant.project, 4).await;
    assert!((0.0..=ceiling).contains(&spent), "{spent}");
    let org =
        g.t.get(&format!("/api/organizations/{}", tenant.org), ADMIN)
            .await;
    let credits = org.body["credits_usd"].as_f64().unwrap();
    assert!((-ceiling..=ceiling).contains(&credits), "{credits}");
    assert!(credits < 1.0, "{credits}");
}
