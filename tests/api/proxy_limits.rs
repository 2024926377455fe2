use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::proxy::pricing;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, openai_stream, spawn_gateway, Gateway};

both!(
    a_thousand_concurrent_requests_never_pass_the_limit,
    credits_run_out,
    usage_and_spend_after_a_burst
);

/// Waits until the project's summary counts `n` requests, and returns it.
async fn summary(g: &Gateway, project: &str, group_by: &str, n: i64) -> Value {
    for _ in 0..400 {
        let r =
            g.t.get(
                &format!("/api/projects/{project}/usage-summary?group_by={group_by}"),
                ADMIN,
            )
            .await;
        let total: i64 = r.body["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| g["requests"].as_i64().unwrap())
            .sum();
        if total >= n {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("usage summary never reached {n} requests");
}

async fn a_thousand_concurrent_requests_never_pass_the_limit(backend: Backend) {
    let g = spawn_gateway(backend).await;
    // Each answer costs at least what its reservation held: 100 prompt tokens (more than
    // the estimate) and the full 1,000 output tokens asked for.
    g.answer("openai", openai_answer("ok", 100, 1000)).await;
    let mut body = ask("gpt-4o-mini");
    body["max_tokens"] = json!(1000);
    // gpt-4o-mini: $0.15 / $0.60 per Mtok = 150 / 600 nano-USD a token.
    let hold = pricing::prompt_bound(&body) as i64 * 150 + 1000 * 600;
    let limit_nano = hold * 10 + hold / 2;
    let tenant = g
        .tenant("credits", 100.0, &[], Some(limit_nano as f64 / 1e9))
        .await;

    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", g.t.base);
    let requests = (0..1000).map(|_| {
        let (client, url, token, body) = (
            client.clone(),
            url.clone(),
            tenant.token.clone(),
            body.clone(),
        );
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    });
    let results = join_all(requests).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(
        (1..=10).contains(&ok),
        "{ok} requests passed a limit with room for 10"
    );
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["code"], "usage_limit_exceeded");
    }
    assert_eq!(
        g.received("/openai/v1/chat/completions").await.len(),
        ok,
        "refused requests never reach the provider"
    );
    // Every request, refused or not, is one usage record.
    let s = summary(&g, &tenant.project, "key", 1000).await;
    assert_eq!(s["groups"][0]["requests"], 1000);
    let spent = s["groups"][0]["cost_usd"].as_f64().unwrap();
    let per_request = (100.0 * 150.0 + 1000.0 * 600.0) * 1.05 / 1e9;
    assert!(
        (spent - per_request * ok as f64).abs() < 1e-9,
        "{spent} vs {ok} x {per_request}"
    );
}

async fn credits_run_out(backend: Backend) {
    let g = spawn_gateway(backend).await;
    // Reported usage far above the estimate: the first request spends all the credits.
    g.answer("openai", openai_answer("pricey", 1_000_000, 1000))
        .await;
    let tenant = g.tenant("credits", 0.01, &[], None).await;
    let mut body = ask("gpt-4o-mini");
    body["max_tokens"] = json!(100);
    let r = g.chat(&tenant.token, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = g.chat(&tenant.token, body.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYMENT_REQUIRED, "insufficient_credits"),
        "{}",
        r.text
    );
    assert_eq!(r.body["error"]["type"], "insufficient_quota");
    // A top-up through the management API is honored by the next request.
    g.t.post(
        &format!("/api/organizations/{}/credits", tenant.org),
        ADMIN,
        json!({"amount_usd": 1.0, "reference": "top-up"}),
    )
    .await;
    assert_eq!(g.chat(&tenant.token, body).await.status, StatusCode::OK);
}

async fn usage_and_spend_after_a_burst(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer_stream("openai", openai_stream(&["a", "b"], 20, 2))
        .await;
    g.answer("openai", openai_answer("done", 20, 2)).await;
    let tenant = g.tenant("credits", 10.0, &[], None).await;
    let second =
        g.t.post(
            &format!("/api/projects/{}/keys", tenant.project),
            ADMIN,
            json!({}),
        )
        .await;
    let second_token = second.body["token"].as_str().unwrap().to_string();
    let mut streaming = ask("gpt-4o-mini");
    streaming["stream"] = json!(true);
    let calls = (0..40).map(|i| {
        let token = if i % 2 == 0 {
            tenant.token.clone()
        } else {
            second_token.clone()
        };
        let body = if i % 4 < 2 {
            ask("gpt-4o-mini")
        } else {
            streaming.clone()
        };
        let g = &g;
        async move { g.chat(&token, body).await }
    });
    for r in join_all(calls).await {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let s = summary(&g, &tenant.project, "key", 40).await;
    let groups = s["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    // 20 * 150 + 2 * 600 nano-USD per request, plus the 5% fee.
    let each = (20.0 * 150.0 + 2.0 * 600.0) * 1.05 / 1e9;
    for group in groups {
        assert_eq!(group["requests"], 20);
        assert_eq!(group["error_rate"], 0.0);
        assert!((group["cost_usd"].as_f64().unwrap() - 20.0 * each).abs() < 1e-12);
    }
    let logs =
        g.t.get(
            &format!(
                "/api/projects/{}/usage-logs?key_id={}&limit=500",
                tenant.project, tenant.key_id
            ),
            ADMIN,
        )
        .await;
    let logs = logs.body["logs"].as_array().unwrap().clone();
    assert_eq!(logs.len(), 20);
    assert_eq!(logs.iter().filter(|l| l["streamed"] == true).count(), 10);
    assert!(logs.iter().all(|l| l["prompt_tokens"] == 20
        && l["estimated"] == false
        && l["paid_with"] == "credits"));
    let page =
        g.t.get(
            &format!("/api/projects/{}/usage-logs?limit=15", tenant.project),
            ADMIN,
        )
        .await;
    assert_eq!(page.body["logs"].as_array().unwrap().len(), 15);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest =
        g.t.get(
            &format!(
                "/api/projects/{}/usage-logs?limit=500&cursor={cursor}",
                tenant.project
            ),
            ADMIN,
        )
        .await;
    assert_eq!(rest.body["logs"].as_array().unwrap().len(), 25);
    let credits =
        g.t.get(&format!("/api/organizations/{}/credits", tenant.org), ADMIN)
            .await;
    assert!((credits.body["balance_usd"].as_f64().unwrap() - (10.0 - 40.0 * each)).abs() < 1e-9);
    let by_model =
        g.t.get(
            &format!(
                "/api/projects/{}/usage-summary?group_by=model",
                tenant.project
            ),
            ADMIN,
        )
        .await;
    assert_eq!(by_model.body["groups"][0]["group"], "gpt-4o-mini");
    let bad =
        g.t.get(
            &format!(
                "/api/projects/{}/usage-summary?group_by=colour",
                tenant.project
            ),
            ADMIN,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
