//! Streams cut short. By the provider: the client gets what came, an error chunk and
//! `[DONE]`. By the client: the gateway stops reading from the provider (so the provider
//! stops generating) and records the request as 499.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::errors::assert_logged;
use crate::helpers::Backend;
use crate::upstream::{ask, spawn_gateway, spawn_gateway_with, Gateway, Tenant};
use crate::{answer_sse, both, header, sse_data};

both!(mid_stream_error, client_disconnect_stops_the_upstream);
both!(client_disconnect_is_recorded_as_client_closed);

/// An OpenAI SSE body whose second event is an error (a chunk after it must never be sent).
pub fn broken_stream() -> String {
    let chunk = |content: &str| {
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "mock",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": null}]})
    };
    format!(
        "data: {}\n\ndata: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        chunk("Hel"),
        json!({"error": {"message": "overloaded", "type": "server_error"}}),
        chunk("lo")
    )
}

async fn mid_stream_error(backend: Backend) {
    let g = spawn_gateway(backend).await;
    answer_sse(&g, broken_stream()).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let mut streamed = ask("gpt-4o-mini");
    streamed["stream"] = json!(true);
    let r = g.chat(&t.token, streamed).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the stream had started: {}",
        r.text
    );
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let data = sse_data(&r.text);
    assert_eq!(data.len(), 3, "content, error, [DONE]: {}", r.text);
    let first: Value = serde_json::from_str(&data[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["content"], "Hel");
    let error: Value = serde_json::from_str(&data[1]).unwrap();
    for field in ["message", "type", "param", "code"] {
        assert!(error["error"].get(field).is_some(), "{field} in {error}");
    }
    assert_eq!(error["error"]["code"], "upstream_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded"),
        "{error}"
    );
    assert_eq!(data[2], "[DONE]");
    assert!(
        !r.text.contains("\"lo\""),
        "nothing after the error: {}",
        r.text
    );

    let log = assert_logged(&g, &t.project, 1, 502, "upstream_error").await;
    assert_eq!(log["streamed"], true);
    assert_eq!(log["cached"], false);
}

const CHUNKS: usize = 50;

/// A slow OpenAI-compatible provider: one chunk every 100 ms, up to 50, counting those it
/// produced. Returns its address and the counter.
async fn slow_provider() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = produced.clone();
    let app = Router::new().route(
        "/openai/v1/chat/completions",
        post(move || {
            let counter = counter.clone();
            async move {
                let chunks = futures::stream::unfold(0usize, move |i| {
                    let counter = counter.clone();
                    async move {
                        if i >= CHUNKS {
                            return None;
                        }
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        counter.fetch_add(1, Ordering::SeqCst);
                        let chunk = json!({"id": "chatcmpl-slow", "object": "chat.completion.chunk",
                            "created": 1, "model": "mock",
                            "choices": [{"index": 0, "delta": {"content": format!("w{i} ")}, "finish_reason": null}]});
                        Some((Ok::<_, Infallible>(Bytes::from(format!("data: {chunk}\n\n"))), i + 1))
                    }
                });
                let done = futures::stream::once(async { Ok(Bytes::from("data: [DONE]\n\n")) });
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(chunks.chain(done)))
                    .unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, produced)
}

/// Starts a stream through the gateway, reads its first chunk and hangs up. Returns the
/// gateway, the tenant, the provider's counter and the usage record of the request.
async fn hang_up_mid_stream(backend: Backend) -> (Gateway, Tenant, Arc<AtomicUsize>, Value) {
    let (addr, produced) = slow_provider().await;
    let g = spawn_gateway_with(backend, |c| {
        c.providers
            .get_mut(&tollgate_aggregates::Provider::OpenAi)
            .unwrap()
            .base_url = Some(format!("http://{addr}/openai/v1"));
    })
    .await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let mut body = ask("gpt-4o-mini");
    body["stream"] = json!(true);

    let res =
        g.t.client
            .post(format!("{}/v1/chat/completions", g.t.base))
            .bearer_auth(&t.token)
            .json(&body)
            .send()
            .await
            .expect("request sent");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = res.bytes_stream();
    let first = stream
        .next()
        .await
        .expect("a first chunk")
        .expect("readable");
    let first = String::from_utf8_lossy(&first).to_string();
    assert!(
        first.starts_with("data: ") && first.contains("w0"),
        "{first}"
    );
    drop(stream);

    // The provider is cut off soon after: its count stops growing, far below 50.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_a_second = produced.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = produced.load(Ordering::SeqCst);
    assert!(
        after_a_second < 20,
        "the provider produced {after_a_second} of {CHUNKS} chunks"
    );
    assert!(
        later <= after_a_second + 1,
        "still producing: {after_a_second} then {later}"
    );

    let logs = g.usage_logs(&t.project, 1).await;
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = logs[0].clone();
    (g, t, produced, log)
}

async fn client_disconnect_stops_the_upstream(backend: Backend) {
    let (_g, _t, produced, log) = hang_up_mid_stream(backend).await;
    assert!(produced.load(Ordering::SeqCst) < CHUNKS);
    assert_eq!(log["status"], 499, "{log}");
    assert_eq!(log["streamed"], true, "{log}");
    assert_eq!(log["cached"], false, "{log}");
    // What was sent is estimated and charged.
    assert_eq!(log["estimated"], true, "{log}");
    assert!(log["completion_tokens"].as_i64().unwrap() >= 1, "{log}");
    assert!(log["cost_usd"].as_f64().unwrap() > 0.0, "{log}");
}

async fn client_disconnect_is_recorded_as_client_closed(backend: Backend) {
    let (_g, _t, _produced, log) = hang_up_mid_stream(backend).await;
    assert_eq!(log["status"], 499, "{log}");
    assert_eq!(log["streamed"], true, "{log}");
    // Fails here: error_code is null.
    assert_eq!(log["error_code"], "client_closed", "{log}");
}
