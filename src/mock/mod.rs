//! A mock LLM provider for benchmarks and tests: OpenAI-shaped (`/v1/chat/completions`,
//! `/v1/responses`, `/v1/embeddings`) and Anthropic-shaped (`/v1/messages`), plain or
//! streamed, with fixed usage numbers and a request counter. A request that offers tools is
//! answered with a call to its first tool until the tool's result comes back (`tools`).
//! Cheap on purpose: it must never be the bottleneck.
//!
//! Per-request knobs (headers): `x-mock-chunks` (stream chunks, default from config),
//! `x-mock-chunk-delay-ms`, `x-mock-first-byte-delay-ms`; or the same in the body, which a
//! gateway passes on: `"mock": {"chunks", "chunk_delay_ms", "first_byte_delay_ms"}`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde::Deserialize;

mod responses;
mod tools;

/// What the mock says when it says something.
const TEXT: &str = "Hello from the mock provider.";

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub chunks: u32,
    pub chunk_delay: Duration,
    pub first_byte_delay: Duration,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            chunks: 8,
            chunk_delay: Duration::ZERO,
            first_byte_delay: Duration::ZERO,
            prompt_tokens: 12,
            completion_tokens: 8,
        }
    }
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
}

#[derive(Clone)]
struct Mock {
    config: Arc<MockConfig>,
    counters: Arc<Counters>,
}

/// Only what changes the answer's shape; serde skips the rest of the body.
#[derive(Deserialize)]
struct Shape {
    #[serde(default)]
    stream: bool,
    /// The knobs in the body (`"mock": {"chunks": 20, "chunk_delay_ms": 10}`): they reach the
    /// mock through a gateway, which passes unknown fields on but not the client's headers.
    #[serde(default)]
    mock: Knobs,
}

#[derive(Deserialize, Default)]
struct Knobs {
    chunks: Option<u64>,
    chunk_delay_ms: Option<u64>,
    first_byte_delay_ms: Option<u64>,
}

pub fn router(config: MockConfig, counters: Arc<Counters>) -> Router {
    let state = Mock {
        config: Arc::new(config),
        counters,
    };
    Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .route("/v1/responses", post(responses::responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/stats", get(stats))
        .with_state(state)
}

/// Serves the mock until the task is dropped; returns its address.
pub async fn spawn(config: MockConfig) -> std::io::Result<(std::net::SocketAddr, Arc<Counters>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::default());
    let app = router(config, counters.clone());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener.tap_io(|t| {
                let _ = t.set_nodelay(true);
            }),
            app,
        )
        .await;
    });
    Ok((addr, counters))
}

fn knob(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

struct Plan {
    stream: bool,
    chunks: u32,
    chunk_delay: Duration,
    first_byte_delay: Duration,
}

impl Mock {
    fn plan(&self, headers: &HeaderMap, body: &Bytes) -> Plan {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let c = &self.config;
        let shape = serde_json::from_slice::<Shape>(body).ok();
        let knobs = shape.as_ref().map(|s| &s.mock);
        // A header wins over the body, the body over the mock's configuration.
        let knob = |header: &str, body: fn(&Knobs) -> Option<u64>| {
            knob(headers, header).or_else(|| knobs.and_then(body))
        };
        Plan {
            stream: shape.as_ref().is_some_and(|s| s.stream),
            chunks: knob("x-mock-chunks", |k| k.chunks)
                .map_or(c.chunks, |v| u32::try_from(v).unwrap_or(u32::MAX))
                .max(1),
            chunk_delay: knob("x-mock-chunk-delay-ms", |k| k.chunk_delay_ms)
                .map_or(c.chunk_delay, Duration::from_millis),
            first_byte_delay: knob("x-mock-first-byte-delay-ms", |k| k.first_byte_delay_ms)
                .map_or(c.first_byte_delay, Duration::from_millis),
        }
    }
}

fn json_response(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

/// An SSE body of `events`, paced by the plan's delays.
fn sse(plan: Plan, events: Vec<String>) -> Response {
    let stream = futures::stream::unfold((0usize, events, plan), |(i, events, plan)| async move {
        if i >= events.len() {
            return None;
        }
        let delay = if i == 0 {
            plan.first_byte_delay
        } else {
            plan.chunk_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let item: Result<Bytes, Infallible> = Ok(Bytes::from(events[i].clone()));
        Some((item, (i + 1, events, plan)))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
}

async fn openai(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let plan = m.plan(&headers, &body);
    let (p, c) = (m.config.prompt_tokens, m.config.completion_tokens);
    if let Some(name) = tools::to_call(&body) {
        return openai_call(plan, &name, p, c).await;
    }
    if !plan.stream {
        if !plan.first_byte_delay.is_zero() {
            tokio::time::sleep(plan.first_byte_delay).await;
        }
        return json_response(format!(
            r#"{{"id":"chatcmpl-mock","object":"chat.completion","created":1,"model":"mock","choices":[{{"index":0,"message":{{"role":"assistant","content":"{TEXT}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{}}}}}"#,
            p + c
        ));
    }
    let chunk = |delta: &str, finish: &str| {
        format!(
            r#"data: {{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1,"model":"mock","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
        ) + "\n\n"
    };
    let mut events = vec![chunk(r#"{"role":"assistant","content":""}"#, "null")];
    for i in 0..plan.chunks {
        events.push(chunk(&format!(r#"{{"content":"word{i} "}}"#), "null"));
    }
    events.push(chunk("{}", r#""stop""#));
    events.push(format!(
        r#"data: {{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1,"model":"mock","choices":[],"usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{}}}}}"#,
        p + c
    ) + "\n\n");
    events.push("data: [DONE]\n\n".into());
    sse(plan, events)
}

async fn anthropic(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let plan = m.plan(&headers, &body);
    let (p, c) = (m.config.prompt_tokens, m.config.completion_tokens);
    if let Some(name) = tools::to_call(&body) {
        return anthropic_call(plan, &name, p, c).await;
    }
    if !plan.stream {
        if !plan.first_byte_delay.is_zero() {
            tokio::time::sleep(plan.first_byte_delay).await;
        }
        return json_response(format!(
            r#"{{"id":"msg_mock","type":"message","role":"assistant","model":"mock","content":[{{"type":"text","text":"{TEXT}"}}],"stop_reason":"end_turn","usage":{{"input_tokens":{p},"output_tokens":{c}}}}}"#
        ));
    }
    let event = |name: &str, data: String| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            format!(
                r#"{{"type":"message_start","message":{{"id":"msg_mock","type":"message","role":"assistant","model":"mock","content":[],"usage":{{"input_tokens":{p},"output_tokens":1}}}}}}"#
            ),
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
                .into(),
        ),
    ];
    for i in 0..plan.chunks {
        events.push(event("content_block_delta", format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"word{i} "}}}}"#)));
    }
    events.push(event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#.into(),
    ));
    events.push(event("message_delta", format!(r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn"}},"usage":{{"output_tokens":{c}}}}}"#)));
    events.push(event("message_stop", r#"{"type":"message_stop"}"#.into()));
    sse(plan, events)
}

/// A chat answer calling `name`, plain or streamed.
async fn openai_call(plan: Plan, name: &str, p: u64, c: u64) -> Response {
    let call = serde_json::json!({"id": "call_mock", "type": "function",
        "function": {"name": name, "arguments": tools::ARGUMENTS}});
    let usage =
        serde_json::json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    if !plan.stream {
        let answer = serde_json::json!({"id": "chatcmpl-mock", "object": "chat.completion",
            "created": 1, "model": "mock", "choices": [{"index": 0, "message": {"role": "assistant",
            "content": null, "tool_calls": [call]}, "finish_reason": "tool_calls"}], "usage": usage});
        return json_response(answer.to_string());
    }
    let chunk = |choices: serde_json::Value, usage: serde_json::Value| {
        let c = serde_json::json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
            "created": 1, "model": "mock", "choices": choices, "usage": usage});
        format!("data: {c}\n\n")
    };
    let mut delta = call.clone();
    delta["index"] = 0.into();
    let events = vec![
        chunk(
            serde_json::json!([{"index": 0, "delta": {"role": "assistant", "tool_calls": [delta]}, "finish_reason": null}]),
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
            serde_json::Value::Null,
        ),
        chunk(serde_json::json!([]), usage),
        "data: [DONE]\n\n".into(),
    ];
    sse(plan, events)
}

/// A Messages answer calling `name`, plain or streamed.
async fn anthropic_call(plan: Plan, name: &str, p: u64, c: u64) -> Response {
    let block = serde_json::json!({"type": "tool_use", "id": "toolu_mock", "name": name, "input": {"city": "Paris"}});
    if !plan.stream {
        let answer = serde_json::json!({"id": "msg_mock", "type": "message", "role": "assistant",
            "model": "mock", "content": [block], "stop_reason": "tool_use",
            "usage": {"input_tokens": p, "output_tokens": c}});
        return json_response(answer.to_string());
    }
    let event = |data: serde_json::Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap_or_default()
        )
    };
    let mut start = block.clone();
    start["input"] = serde_json::json!({});
    let events = vec![
        event(
            serde_json::json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": "mock", "content": [], "usage": {"input_tokens": p, "output_tokens": 1}}}),
        ),
        event(
            serde_json::json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        event(
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": tools::ARGUMENTS}}),
        ),
        event(serde_json::json!({"type": "content_block_stop", "index": 0})),
        event(
            serde_json::json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": c}}),
        ),
        event(serde_json::json!({"type": "message_stop"})),
    ];
    sse(plan, events)
}

async fn embeddings(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    m.plan(&headers, &body);
    let p = m.config.prompt_tokens;
    json_response(format!(
        r#"{{"object":"list","model":"mock","data":[{{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}}],"usage":{{"prompt_tokens":{p},"total_tokens":{p}}}}}"#
    ))
}

async fn stats(State(m): State<Mock>) -> Response {
    json_response(format!(
        r#"{{"requests":{}}}"#,
        m.counters.requests.load(Ordering::Relaxed)
    ))
}
