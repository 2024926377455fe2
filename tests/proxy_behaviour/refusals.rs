//! Requests the proxy refuses before metering them: a method a route does not take gets
//! OpenAI's error shape and `Allow`, and a bad key's 401 is counted in `/metrics`.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::both;
use crate::helpers::Backend;
use crate::upstream::{ask, spawn_gateway};

both!(
    wrong_methods_get_the_error_shape_and_allow,
    a_refused_key_is_counted_in_metrics
);

async fn wrong_methods_get_the_error_shape_and_allow(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let cases = [
        (Method::GET, "/v1/chat/completions", "POST"),
        (Method::PUT, "/v1/embeddings", "POST"),
        (Method::DELETE, "/v1/models", "GET"),
        (Method::POST, "/v1/models/gpt-4o-mini", "GET"),
    ];
    for (method, path, allowed) in cases {
        let r =
            g.t.client
                .request(method.clone(), format!("{}{path}", g.t.base))
                .send()
                .await
                .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = r.headers()["allow"].to_str().unwrap().to_string();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{method} {path}: Allow {allow}"
        );
        assert!(r.headers().contains_key("x-request-id"));
        let body: Value = r.json().await.unwrap();
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["code"], "method_not_allowed", "{body}");
        assert!(error["message"].as_str().unwrap().contains(path), "{body}");
        assert!(error.get("param").is_some(), "{body}");
    }
}

/// The value of the chat route's 401 counter in `/metrics` (0 while it does not exist).
async fn chat_401s(g: &crate::upstream::Gateway) -> f64 {
    let text =
        g.t.client
            .get(format!("{}/metrics", g.t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    text.lines()
        .filter(|l| l.starts_with("tollgate_requests_total{"))
        .filter(|l| l.contains(r#"route="chat""#) && l.contains(r#"status="401""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn a_refused_key_is_counted_in_metrics(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let before = chat_401s(&g).await;
    for token in ["tg-not-a-key", ""] {
        let r = g.chat(token, ask("gpt-4o-mini")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.code(), "invalid_api_key");
    }
    // The recorder is shared by every gateway of this test process: at least these two.
    let after = chat_401s(&g).await;
    assert!(after >= before + 2.0, "401s before {before}, after {after}");
}
