//! Every proxy error code in OpenAI's shape, with its status, and the usage record each
//! failure leaves, including errors of the upstream provider (mid-stream errors: `disconnect`).

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway, spawn_gateway_with, Answer, Gateway};
use crate::{both, header, raw_chat, OPENAI};

both!(
    request_errors,
    key_errors,
    money_errors,
    routing_errors,
    upstream_errors,
    upstream_timeout,
    payload_too_large
);
both!(payload_too_large_is_recorded);

/// Asserts the OpenAI error shape, the status, the code and (when given) the param.
pub fn assert_error(r: &Answer, status: StatusCode, code: &str, param: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    let error = r.body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("an error object: {}", r.text));
    for field in ["message", "type", "param", "code"] {
        assert!(error.contains_key(field), "{field} in {}", r.text);
    }
    assert!(
        !error["message"].as_str().unwrap_or("").is_empty(),
        "{}",
        r.text
    );
    assert!(error["type"].is_string(), "{}", r.text);
    assert_eq!(r.code(), code, "{}", r.text);
    if let Some(p) = param {
        assert_eq!(error["param"], p, "{}", r.text);
    }
    assert!(
        header(r, "content-type").starts_with("application/json"),
        "{:?}",
        r.headers
    );
}

/// Waits for the project's `n`th usage record and checks it is the failure just answered.
pub async fn assert_logged(g: &Gateway, project: &str, n: usize, status: u16, code: &str) -> Value {
    let logs = g.usage_logs(project, n).await;
    assert_eq!(logs.len(), n, "one record per request: {logs:?}");
    let log = logs[0].clone();
    assert_eq!(log["status"], status, "{log}");
    assert_eq!(log["error_code"], code, "{log}");
    log
}

const JSON: (&str, &str) = ("content-type", "application/json");

async fn request_errors(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let bearer = format!("Bearer {}", t.token);
    let auth = ("authorization", bearer.as_str());

    let r = g.chat(&t.token, json!({"model": "gpt-4o-mini"})).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_value",
        Some("messages"),
    );
    assert_logged(&g, &t.project, 1, 400, "invalid_value").await;

    let r = g
        .chat(&t.token, json!({"model": "gpt-4o-mini", "messages": []}))
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_value",
        Some("messages"),
    );
    assert_logged(&g, &t.project, 2, 400, "invalid_value").await;

    let mut body = ask("gpt-4o-mini");
    body["temperature"] = json!("hot");
    let r = g.chat(&t.token, body).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "invalid_value",
        Some("temperature"),
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("temperature"));
    assert_logged(&g, &t.project, 3, 400, "invalid_value").await;

    let r = raw_chat(&g, &[auth, JSON], "{\"model\": \"gpt-4o-mini\", ").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json", None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{}",
        r.text
    );
    assert_logged(&g, &t.project, 4, 400, "invalid_json").await;

    let r = raw_chat(&g, &[auth, JSON], "[1, 2]").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json", None);
    assert_logged(&g, &t.project, 5, 400, "invalid_json").await;

    let r = raw_chat(
        &g,
        &[auth, ("content-type", "text/plain")],
        ask("gpt-4o-mini").to_string(),
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    assert_logged(&g, &t.project, 6, 415, "unsupported_media_type").await;

    assert!(g.received(OPENAI).await.is_empty(), "nothing was forwarded");
}

async fn key_errors(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let body = ask("gpt-4o-mini").to_string();

    let none = raw_chat(&g, &[JSON], body.clone()).await;
    let bad = g.chat("tg-not-a-key", ask("gpt-4o-mini")).await;
    let bad_x = raw_chat(&g, &[JSON, ("x-api-key", "tg-not-a-key")], body.clone()).await;
    let empty = raw_chat(&g, &[JSON, ("authorization", "Bearer  ")], body.clone()).await;
    for r in [&none, &bad, &bad_x, &empty] {
        assert_error(r, StatusCode::UNAUTHORIZED, "invalid_api_key", None);
        assert_eq!(r.body["error"]["type"], "authentication_error");
    }
    assert!(g.received(OPENAI).await.is_empty());

    // The right key is accepted through x-api-key as well.
    let r = raw_chat(&g, &[JSON, ("x-api-key", t.token.as_str())], body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // No project to charge a request without a valid key: only the good one is recorded.
    let logs = g.usage_logs(&t.project, 1).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["status"], 200);
}

async fn money_errors(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;

    let broke = g.tenant("credits", 0.0, &[], None).await;
    let r = g.chat(&broke.token, ask("gpt-4o-mini")).await;
    assert_error(
        &r,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
        None,
    );
    assert_eq!(r.body["error"]["type"], "insufficient_quota");
    assert_logged(&g, &broke.project, 1, 402, "insufficient_credits").await;

    let capped = g.tenant("credits", 1.0, &[], Some(0.0)).await;
    let r = g.chat(&capped.token, ask("gpt-4o-mini")).await;
    assert_error(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "usage_limit_exceeded",
        None,
    );
    assert_eq!(r.body["error"]["type"], "rate_limit_error");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{}",
        r.text
    );
    assert_logged(&g, &capped.project, 1, 429, "usage_limit_exceeded").await;
    assert!(
        g.received(OPENAI).await.is_empty(),
        "refused before any upstream call"
    );
}

async fn routing_errors(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;

    let r = g.chat(&t.token, ask("no-such-model")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "model_not_found", Some("model"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-model"));
    assert_logged(&g, &t.project, 1, 404, "model_not_found").await;

    let r = g.chat(&t.token, ask("nope/gpt-4o")).await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "unknown_provider",
        Some("model"),
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
    assert_logged(&g, &t.project, 2, 400, "unknown_provider").await;

    let rules = json!({"rules": [{"type": "deny_models", "models": ["gpt-4o-mini"]}]});
    let put =
        g.t.put(&format!("/api/keys/{}/iam-rules", t.key_id), ADMIN, rules)
            .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::FORBIDDEN, "iam_denied", None);
    assert_eq!(r.body["error"]["type"], "permission_error");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("rule 1") && message.contains("deny_models"),
        "{message}"
    );
    assert_logged(&g, &t.project, 3, 403, "iam_denied").await;
    assert!(g.received(OPENAI).await.is_empty());
}

async fn too_large(g: &Gateway, token: &str) -> Answer {
    let body = json!({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": "x".repeat(70 * 1024)}]});
    g.chat(token, body).await
}

async fn payload_too_large(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let r = too_large(&g, &t.token).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    assert!(g.received(OPENAI).await.is_empty());
    // Just under the limit is fine.
    let body = json!({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": "x".repeat(60 * 1024)}]});
    let r = g.chat(&t.token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn payload_too_large_is_recorded(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let r = too_large(&g, &t.token).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // Fails here: `usage logs of … never reached 1`.
    assert_logged(&g, &t.project, 1, 413, "payload_too_large").await;
}

/// Replaces whatever the mock answered with `template`, for the next request.
async fn upstream_answers(g: &Gateway, template: ResponseTemplate) {
    g.mock.reset().await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(template)
        .mount(&g.mock)
        .await;
}

async fn upstream_errors(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let t = g.tenant("credits", 1.0, &[], None).await;

    let limited = ResponseTemplate::new(429)
        // Longer than the gateway waits to retry: passed on to the client.
        .insert_header("retry-after", "60")
        .set_body_json(json!({"error": {"message": "slow down"}}));
    upstream_answers(&g, limited).await;
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(
        &r,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        None,
    );
    assert_eq!(header(&r, "retry-after"), "60");
    assert_eq!(r.body["error"]["message"], "slow down");
    assert_eq!(r.body["error"]["upstream_status"], 429);
    assert_logged(&g, &t.project, 1, 429, "rate_limit_exceeded").await;

    let rejected =
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad thing"}}));
    upstream_answers(&g, rejected).await;
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "upstream_error", None);
    assert_eq!(r.body["error"]["message"], "bad thing");
    assert_eq!(r.body["error"]["upstream_status"], 400);
    assert!(r.headers.get("retry-after").is_none());
    assert_logged(&g, &t.project, 2, 400, "upstream_error").await;

    let failed = ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "kaboom"}}));
    upstream_answers(&g, failed).await;
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "upstream_error", None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("kaboom"),
        "{}",
        r.text
    );
    assert_eq!(r.body["error"]["upstream_status"], 500);
    // A 5xx is retried once: the failed attempt has its own record.
    assert_logged(&g, &t.project, 4, 502, "upstream_error").await;

    let garbled = ResponseTemplate::new(200).set_body_raw("{\"choices\": [", "application/json");
    upstream_answers(&g, garbled).await;
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "upstream_error", None);
    assert!(
        r.body["error"].get("upstream_status").is_none(),
        "{}",
        r.text
    );
    assert_logged(&g, &t.project, 5, 502, "upstream_error").await;

    let shapeless = ResponseTemplate::new(200).set_body_json(json!({"result": "hi"}));
    upstream_answers(&g, shapeless).await;
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "upstream_error", None);
    assert_logged(&g, &t.project, 6, 502, "upstream_error").await;

    // Errors before a stream starts are plain JSON errors too.
    let failed = ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "down"}}));
    upstream_answers(&g, failed).await;
    let mut streamed = ask("gpt-4o-mini");
    streamed["stream"] = json!(true);
    let r = g.chat(&t.token, streamed).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "upstream_error", None);
    assert_eq!(r.body["error"]["upstream_status"], 503);
    let log = assert_logged(&g, &t.project, 8, 502, "upstream_error").await;
    assert_eq!(log["streamed"], true);
}

async fn upstream_timeout(backend: Backend) {
    let g = spawn_gateway_with(backend, |c| c.proxy.upstream_timeout_secs = 1).await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(openai_answer("late", 10, 5))
        .set_delay(std::time::Duration::from_secs(3));
    upstream_answers(&g, slow).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let started = std::time::Instant::now();
    let r = g.chat(&t.token, ask("gpt-4o-mini")).await;
    assert_error(&r, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", None);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_logged(&g, &t.project, 1, 504, "upstream_timeout").await;
}
