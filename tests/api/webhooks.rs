//! Spend alerts through webhooks, to a local receiver: thresholds and a reached limit fire
//! once each, deliveries are signed, a receiver that fails twice still gets them, and a
//! fresh process raises nothing twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::proxy::pricing;
use tollgate_projections::read::dump;

use crate::both;
use crate::helpers::{spawn_with, test_config, Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway_with};

both!(alerts_fire_once_signed_and_retried);

#[derive(Default)]
struct Received {
    /// (headers, body, status answered)
    calls: Vec<(HeaderMap, String, u16)>,
    failures_left: u32,
}

/// A receiver that answers 500 to its first `failures` calls, then 200.
async fn receiver(failures: u32) -> (String, Arc<Mutex<Received>>) {
    let state = Arc::new(Mutex::new(Received {
        failures_left: failures,
        ..Received::default()
    }));
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = shared.clone();
            async move {
                let mut s = state.lock().unwrap();
                let status = if s.failures_left > 0 {
                    s.failures_left -= 1;
                    500
                } else {
                    200
                };
                s.calls.push((headers, body, status));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

/// Alert ids delivered with a 200, and how many times each.
fn delivered(state: &Mutex<Received>) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (headers, _, status) in &state.lock().unwrap().calls {
        if *status == 200 {
            let id = headers["x-tollgate-delivery"].to_str().unwrap().to_string();
            *out.entry(id).or_default() += 1;
        }
    }
    out
}

async fn wait_for_deliveries(state: &Mutex<Received>, n: usize) {
    for _ in 0..600 {
        if delivered(state).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} of {n} alerts delivered", delivered(state).len());
}

async fn alerts_fire_once_signed_and_retried(backend: Backend) {
    let g = spawn_gateway_with(backend, |c| c.alerts.poll_ms = 50).await;
    // Each answer costs exactly what its request held.
    let mut body = ask("gpt-4o-mini");
    body["max_tokens"] = json!(10);
    g.answer(
        "openai",
        openai_answer("ok", pricing::prompt_bound(&body), 10),
    )
    .await;
    let probe = g.tenant("credits", 10.0, &[], None).await;
    let first = g.chat(&probe.token, body.clone()).await;
    let cost: f64 = first.headers["x-tollgate-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    let tenant = g.tenant("credits", 10.0, &[], Some(cost * 3.5)).await;
    let (url, received) = receiver(2).await;
    let hook = json!({
        "url": url,
        "events": ["spend_threshold", "limit_reached"],
        "thresholds_percent": [50, 75],
    });
    let r =
        g.t.post(
            &format!("/api/organizations/{}/webhooks", tenant.org),
            ADMIN,
            hook,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let webhook = r.body["webhook"]["id"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    // Another webhook, for the credits: below $10 once anything is spent.
    let low = json!({"url": url, "events": ["credits_low"], "credits_below_usd": 10.0});
    let r =
        g.t.post(
            &format!("/api/organizations/{}/webhooks", tenant.org),
            ADMIN,
            low,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let low_secret = r.body["secret"].as_str().unwrap().to_string();

    // 3 requests: 86 % of the limit (50 and 75 cross); then the limit is lowered to what
    // was spent (reached).
    for _ in 0..3 {
        assert_eq!(
            g.chat(&tenant.token, body.clone()).await.status,
            StatusCode::OK
        );
    }
    wait_for_deliveries(&received, 3).await;
    let lowered = json!({"usage_limit_usd": cost * 3.0});
    g.t.patch(&format!("/api/keys/{}", tenant.key_id), ADMIN, lowered)
        .await;
    wait_for_deliveries(&received, 4).await;
    // A few more passes: nothing fires again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let counts = delivered(&received);
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");

    // Every call is signed over its time and body.
    let calls = received.lock().unwrap().calls.clone();
    assert!(
        calls.iter().filter(|c| c.2 == 500).count() == 2,
        "two failures first"
    );
    let mut kinds = Vec::new();
    for (headers, body, _) in &calls {
        let sig = headers["x-tollgate-signature"].to_str().unwrap();
        let t: i64 = sig[2..sig.find(',').unwrap()].parse().unwrap();
        let doc: Value = serde_json::from_str(body).unwrap();
        let key = match doc["type"] == "credits_low" {
            true => &low_secret,
            false => &secret,
        };
        assert_eq!(sig, tollgate::alerts::sign::signature(key, t, body));
        kinds.push((doc["type"].clone(), doc["threshold_percent"].clone()));
    }
    for want in [
        (json!("spend_threshold"), json!(50)),
        (json!("spend_threshold"), json!(75)),
        (json!("limit_reached"), json!(100)),
        (json!("credits_low"), json!(null)),
    ] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }

    // The deliveries, attempt by attempt.
    let d =
        g.t.get(&format!("/api/webhooks/{webhook}/deliveries"), ADMIN)
            .await;
    let list = d.body.as_array().unwrap();
    assert_eq!(list.len(), 3, "{:?}", d.body);
    assert!(list.iter().all(|a| a["delivered"] == true));
    let retried = list
        .iter()
        .filter(|a| a["attempts"].as_array().unwrap().len() >= 2)
        .count();
    assert!(retried >= 1, "{:?}", d.body);

    // A fresh process on the same database raises nothing again.
    let mut config = test_config(&g.t.database_url);
    config.providers = g.t.app.config.providers.clone();
    config.alerts.poll_ms = 50;
    let _again = spawn_with(config, None).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(delivered(&received), counts);

    // Webhooks, alerts and attempts are read models like any other: a rebuild gives them back.
    let live = dump(&g.t.app.db).await.unwrap();
    g.t.app.projector.rebuild().await.unwrap();
    assert_eq!(dump(&g.t.app.db).await.unwrap(), live);
}
