//! Period budgets on keys and projects: refused when the period's budget is spent, renewed
//! when the period turns (the proxy's clock is moved forward: nothing sleeps for an hour).

use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::proxy::pricing;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway, Gateway};

both!(
    a_key_budget_renews_with_its_hour,
    a_project_budget_holds_for_all_its_keys,
    budget_fields_are_checked
);

/// A request whose answer reports exactly its reservation bound: its cost is what it held.
async fn exact_requests(g: &Gateway) -> Value {
    let mut body = ask("gpt-4o-mini");
    body["max_tokens"] = json!(10);
    let prompt = pricing::prompt_bound(&body);
    g.answer("openai", openai_answer("ok", prompt, 10)).await;
    body
}

fn cost(answer: &crate::upstream::Answer) -> f64 {
    answer.headers["x-tollgate-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A credits-mode project (with `project_budget`) in a funded organization.
async fn project(g: &Gateway, project_budget: Value) -> String {
    let org = g.t.org("budgets").await;
    let credits = json!({"amount_usd": 10, "reference": "t"});
    g.t.post(&format!("/api/organizations/{org}/credits"), ADMIN, credits)
        .await;
    let mut body = json!({"organization_id": org, "name": "p", "mode": "credits"});
    if let (Some(b), Some(o)) = (project_budget.as_object(), body.as_object_mut()) {
        o.extend(b.clone());
    }
    let r = g.t.post("/api/projects", ADMIN, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn key(g: &Gateway, project: &str, body: Value) -> (String, String) {
    let r =
        g.t.post(&format!("/api/projects/{project}/keys"), ADMIN, body)
            .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["key"]["id"].as_str().unwrap().to_string();
    (id, r.body["token"].as_str().unwrap().to_string())
}

/// What one exact request costs, from a key of its own.
async fn one_request_cost(g: &Gateway, body: &Value) -> f64 {
    let p = project(g, json!({})).await;
    let (_, token) = key(g, &p, json!({})).await;
    let r = g.chat(&token, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    cost(&r)
}

async fn a_key_budget_renews_with_its_hour(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let body = exact_requests(&g).await;
    let c = one_request_cost(&g, &body).await;
    let p = project(&g, json!({})).await;
    let budget = json!({"period_limit_usd": c * 2.5, "period": "hour"});
    let (id, token) = key(&g, &p, budget).await;

    for _ in 0..2 {
        assert_eq!(g.chat(&token, body.clone()).await.status, StatusCode::OK);
    }
    let refused = g.chat(&token, body.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "usage_limit_exceeded");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("this key's hour budget"), "{message}");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");

    // The next hour: the budget is whole again.
    g.t.app.proxy.state.clock.advance(3600);
    assert_eq!(g.chat(&token, body.clone()).await.status, StatusCode::OK);

    // The key shows the period's spend (this hour's one request) and the lifetime's (three).
    let shown = wait_for(&g, &format!("/api/keys/{id}"), |k| {
        k["spend_usd"].as_f64().is_some_and(|s| s > c * 2.9)
    })
    .await;
    assert_eq!(shown["period"], "hour");
    assert!((shown["period_limit_usd"].as_f64().unwrap() - c * 2.5).abs() < 1e-9);
    assert!(
        (shown["period_spend_usd"].as_f64().unwrap() - c).abs() < 1e-9,
        "{shown}"
    );
    let resets = shown["period_resets_at"].as_str().unwrap();
    assert!(resets.ends_with(":00:00.000000Z"), "{resets}");

    // Cleared: no period budget any more.
    let r =
        g.t.patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"period_limit_usd": null}),
        )
        .await;
    assert_eq!(r.body["period"], json!(null));
    assert_eq!(r.body["period_spend_usd"], json!(null));
}

async fn a_project_budget_holds_for_all_its_keys(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let body = exact_requests(&g).await;
    let c = one_request_cost(&g, &body).await;
    let p = project(&g, json!({"period_limit_usd": c * 2.5, "period": "day"})).await;
    let (_, first) = key(&g, &p, json!({})).await;
    let (_, second) = key(&g, &p, json!({})).await;
    assert_eq!(g.chat(&first, body.clone()).await.status, StatusCode::OK);
    assert_eq!(g.chat(&second, body.clone()).await.status, StatusCode::OK);
    for token in [&first, &second] {
        let refused = g.chat(token, body.clone()).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("this project's day budget"), "{message}");
    }
    g.t.app.proxy.state.clock.advance(86_400);
    assert_eq!(g.chat(&second, body.clone()).await.status, StatusCode::OK);
    let shown = g.t.get(&format!("/api/projects/{p}"), ADMIN).await;
    assert_eq!(shown.body["period"], "day");

    // Budgets and the spend by hour come back whole from a rebuild.
    wait_for(&g, &format!("/api/projects/{p}"), |p| {
        p["spend_usd"].as_f64().is_some_and(|s| s > c * 2.9)
    })
    .await;
    let live = tollgate_projections::read::dump(&g.t.app.db).await.unwrap();
    g.t.app.projector.rebuild().await.unwrap();
    let rebuilt = tollgate_projections::read::dump(&g.t.app.db).await.unwrap();
    for (table, rows) in &live {
        assert_eq!(&rebuilt[table], rows, "{table}");
    }
}

async fn budget_fields_are_checked(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let p = project(&g, json!({})).await;
    let keys = format!("/api/projects/{p}/keys");
    for (bad, param) in [
        (json!({"period_limit_usd": 5}), "period"),
        (json!({"period": "day"}), "period_limit_usd"),
        (
            json!({"period_limit_usd": -1, "period": "day"}),
            "period_limit_usd",
        ),
    ] {
        let r = g.t.post(&keys, ADMIN, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
        assert_eq!(r.body["error"]["param"], param, "{bad}");
    }
    let r =
        g.t.post(
            &keys,
            ADMIN,
            json!({"period": "fortnight", "period_limit_usd": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let (id, _) = key(&g, &p, json!({"period_limit_usd": 5, "period": "week"})).await;
    // A PATCH may change the period alone; the limit stays.
    let r =
        g.t.patch(
            &format!("/api/keys/{id}"),
            ADMIN,
            json!({"period": "month"}),
        )
        .await;
    assert_eq!(r.body["period"], "month");
    assert_eq!(r.body["period_limit_usd"], 5.0);
    // Each change is an event in the key's history.
    let audit = format!("/api/audit?aggregate_id={id}&event_type=KeyPeriodBudgetSet");
    let events = g.t.get(&audit, ADMIN).await.body["events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(2), "{events}");
}

/// Polls `path` until `done` holds (usage is written in batches).
async fn wait_for(g: &Gateway, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let r = g.t.get(path, ADMIN).await;
        if done(&r.body) {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{path} never got there");
}
