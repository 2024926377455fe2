use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway, Gateway};

both!(
    embeddings_are_metered,
    own_keys_take_turns,
    modes_choose_credentials,
    hybrid_falls_back_when_the_own_key_fails,
    management_changes_apply_to_the_next_request,
    models_follow_rules_and_mode
);

const OPENAI: &str = "/openai/v1/chat/completions";

async fn auth_headers(g: &Gateway, path: &str) -> Vec<String> {
    g.received(path)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

async fn modes_choose_credentials(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;

    let none = g.tenant("api-keys", 0.0, &[], None).await;
    let r = g.chat(&none.token, ask("gpt-4o-mini")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "provider_key_missing"),
        "{}",
        r.text
    );

    let own = g
        .tenant("api-keys", 0.0, &[("openai", "sk-own-openai-1")], None)
        .await;
    let mut body = ask("gpt-4o-mini");
    body["logit_bias"] = json!({"50256": -100});
    body["x_vendor_extension"] = json!({"keep": true});
    let r = g.chat(&own.token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["choices"][0]["message"]["content"], "hi");
    assert_eq!(r.headers["x-tollgate-provider"], "openai");
    assert_eq!(r.headers["x-tollgate-cache"], "BYPASS");
    assert!(r.headers["x-request-id"].len() > 10);
    // 10 * 0.15 + 5 * 0.6 USD per Mtok, no fee on an own key.
    assert_eq!(r.headers["x-tollgate-cost-usd"], "0.000004500");
    assert_eq!(auth_headers(&g, OPENAI).await, ["Bearer sk-own-openai-1"]);
    // Fields the gateway does not know pass through to OpenAI-compatible providers.
    let sent: serde_json::Value =
        serde_json::from_slice(&g.received(OPENAI).await[0].body).unwrap();
    assert_eq!(sent["x_vendor_extension"], json!({"keep": true}), "{sent}");
    assert_eq!(sent["logit_bias"], json!({"50256": -100}));
    assert_eq!(sent["model"], "gpt-4o-mini");

    let credits = g
        .tenant("credits", 1.0, &[("openai", "sk-own-ignored")], None)
        .await;
    let r = g.chat(&credits.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.headers["x-tollgate-cost-usd"], "0.000004725",
        "5% fee on credits"
    );
    assert_eq!(
        auth_headers(&g, OPENAI).await.last().unwrap(),
        "Bearer gw-openai"
    );
    let logs = g.usage_logs(&credits.project, 1).await;
    assert_eq!(logs[0]["paid_with"], "credits");
    assert_eq!(logs[0]["prompt_tokens"], 10);
    let balance =
        g.t.get(
            &format!("/api/organizations/{}/credits", credits.org),
            ADMIN,
        )
        .await;
    assert_eq!(balance.body["balance_usd"], 1.0 - 0.000004725);

    let broke = g.tenant("credits", 0.0, &[], None).await;
    let r = g.chat(&broke.token, ask("gpt-4o-mini")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYMENT_REQUIRED, "insufficient_credits"),
        "{}",
        r.text
    );

    let hybrid_own = g
        .tenant("hybrid", 0.0, &[("openai", "sk-own-hybrid-2")], None)
        .await;
    assert_eq!(
        g.chat(&hybrid_own.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        auth_headers(&g, OPENAI).await.last().unwrap(),
        "Bearer sk-own-hybrid-2"
    );
    let hybrid_credits = g
        .tenant("hybrid", 1.0, &[("anthropic", "sk-ant-other")], None)
        .await;
    assert_eq!(
        g.chat(&hybrid_credits.token, ask("gpt-4o-mini"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        auth_headers(&g, OPENAI).await.last().unwrap(),
        "Bearer gw-openai"
    );
    let metrics =
        g.t.client
            .get(format!("{}/metrics", g.t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    for name in [
        "tollgate_requests_total",
        "tollgate_overhead_seconds_bucket",
        "tollgate_request_duration_seconds_bucket",
        "tollgate_usage_queue_depth",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let logs = g.usage_logs(&hybrid_own.project, 1).await;
    assert_eq!(
        (logs[0]["paid_with"].as_str(), logs[0]["fee_usd"].as_f64()),
        (Some("own_key"), Some(0.0))
    );
}

async fn hybrid_falls_back_when_the_own_key_fails(backend: Backend) {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let g = spawn_gateway(backend).await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .and(header("authorization", "Bearer sk-own-broken"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"message": "Incorrect API key provided"}})),
        )
        .with_priority(1)
        .mount(&g.mock)
        .await;
    g.answer("openai", openai_answer("from credits", 10, 5))
        .await;
    let tenant = g
        .tenant("hybrid", 1.0, &[("openai", "sk-own-broken")], None)
        .await;
    let r = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["choices"][0]["message"]["content"], "from credits");
    assert_eq!(
        auth_headers(&g, OPENAI).await,
        ["Bearer sk-own-broken", "Bearer gw-openai"]
    );
    // Both attempts are recorded.
    let logs = g.usage_logs(&tenant.project, 2).await;
    let failed = logs
        .iter()
        .find(|l| l["status"] == 401)
        .expect("failed attempt recorded");
    assert_eq!(failed["paid_with"], "own_key");
    assert_eq!(failed["error_code"], "upstream_error");
    let ok = logs.iter().find(|l| l["status"] == 200).unwrap();
    assert_eq!(ok["paid_with"], "credits");

    // api-keys mode never falls back: the provider's 401 passes through.
    let strict = g
        .tenant("api-keys", 1.0, &[("openai", "sk-own-broken")], None)
        .await;
    let r = g.chat(&strict.token, ask("gpt-4o-mini")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "upstream_error"),
        "{}",
        r.text
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Incorrect API key"));
}

async fn management_changes_apply_to_the_next_request(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 1, 1)).await;
    g.answer("openrouter", openai_answer("hi via openrouter", 1, 1))
        .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let t = &g.t;
    let key = &tenant.key_id;
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );

    t.patch(
        &format!("/api/keys/{key}"),
        ADMIN,
        json!({"status": "disabled"}),
    )
    .await;
    let r = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
    t.patch(
        &format!("/api/keys/{key}"),
        ADMIN,
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );

    t.put(
        &format!("/api/keys/{key}/iam-rules"),
        ADMIN,
        json!({"rules": [{"type": "deny_providers", "providers": ["openai"]}]}),
    )
    .await;
    let r = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(
        r.headers["x-tollgate-provider"], "openrouter",
        "routing honors the new rule"
    );

    t.patch(
        &format!("/api/projects/{}", tenant.project),
        ADMIN,
        json!({"mode": "api-keys"}),
    )
    .await;
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.code(),
        "provider_key_missing"
    );
    t.patch(
        &format!("/api/projects/{}", tenant.project),
        ADMIN,
        json!({"mode": "credits"}),
    )
    .await;

    t.patch(
        &format!("/api/keys/{key}"),
        ADMIN,
        json!({"usage_limit_usd": 0}),
    )
    .await;
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.code(),
        "usage_limit_exceeded"
    );
    t.patch(
        &format!("/api/keys/{key}"),
        ADMIN,
        json!({"usage_limit_usd": null}),
    )
    .await;

    let rotated = t
        .post(&format!("/api/keys/{key}/rotate"), ADMIN, json!({}))
        .await;
    let new_token = rotated.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        g.chat(&new_token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    let graced = t
        .post(
            &format!("/api/keys/{key}/rotate"),
            ADMIN,
            json!({"grace_seconds": 300}),
        )
        .await;
    assert_eq!(
        g.chat(&new_token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK,
        "old token works during grace"
    );
    let newest = graced.body["token"].as_str().unwrap().to_string();

    t.delete(&format!("/api/projects/{}", tenant.project), ADMIN)
        .await;
    assert_eq!(
        g.chat(&newest, ask("gpt-4o-mini")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn models_follow_rules_and_mode(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let get = |token: String, path: String| {
        let client = g.t.client.clone();
        let base = g.t.base.clone();
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .header("x-api-key", token)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let credits = g.tenant("credits", 1.0, &[], None).await;
    let (status, all) = get(credits.token.clone(), "/v1/models".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["object"], "list");
    let all = ids(&all);
    assert!(all.contains(&"gpt-4o".to_string()) && all.contains(&"claude-sonnet-4-5".to_string()));

    g.t.put(
        &format!("/api/keys/{}/iam-rules", credits.key_id),
        ADMIN,
        json!({"rules": [{"type": "allow_providers", "providers": ["anthropic"]}]}),
    )
    .await;
    let (_, only) = get(credits.token.clone(), "/v1/models".into()).await;
    let only = ids(&only);
    assert!(
        !only.is_empty() && only.iter().all(|m| m.starts_with("claude")),
        "{only:?}"
    );
    assert_eq!(
        get(credits.token.clone(), "/v1/models/claude-haiku-4-5".into())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get(credits.token.clone(), "/v1/models/gpt-4o".into())
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let own = g
        .tenant("api-keys", 0.0, &[("mistral", "sk-mistral-own")], None)
        .await;
    let (_, listed) = get(own.token.clone(), "/v1/models".into()).await;
    let listed = ids(&listed);
    assert!(
        !listed.is_empty()
            && listed
                .iter()
                .all(|m| m.contains("mistral") || m.contains("codestral")),
        "{listed:?}"
    );
    assert_eq!(
        get("sk-tg-nope".into(), "/v1/models".into()).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn embeddings_are_metered(backend: Backend) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let g = spawn_gateway(backend).await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8}
        })))
        .mount(&g.mock)
        .await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let r = g
        .post_v1(
            "/v1/embeddings",
            &tenant.token,
            json!({"model": "text-embedding-3-small", "input": "hello"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"][0]["embedding"], json!([0.1, 0.2]));
    let sent = g.received("/openai/v1/embeddings").await;
    let sent: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(sent["input"], "hello");
    let logs = g.usage_logs(&tenant.project, 1).await;
    assert_eq!(
        (
            logs[0]["endpoint"].as_str(),
            logs[0]["prompt_tokens"].as_i64()
        ),
        (Some("embeddings"), Some(8))
    );
    let r = g
        .post_v1(
            "/v1/embeddings",
            &tenant.token,
            json!({"model": "gpt-4o-mini", "input": "hello"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("model"))
    );
    let r = g
        .post_v1(
            "/v1/embeddings",
            &tenant.token,
            json!({"model": "text-embedding-3-small"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["param"].as_str()),
        (StatusCode::BAD_REQUEST, Some("input"))
    );
}

/// Several own keys for one provider share the load.
async fn own_keys_take_turns(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 1, 1)).await;
    let tenant = g
        .tenant(
            "api-keys",
            0.0,
            &[("openai", "sk-own-first-1"), ("openai", "sk-own-second-2")],
            None,
        )
        .await;
    for _ in 0..4 {
        assert_eq!(
            g.chat(&tenant.token, ask("gpt-4o-mini")).await.status,
            StatusCode::OK
        );
    }
    let used = auth_headers(&g, OPENAI).await;
    for key in ["Bearer sk-own-first-1", "Bearer sk-own-second-2"] {
        assert_eq!(used.iter().filter(|u| *u == key).count(), 2, "{used:?}");
    }
}
