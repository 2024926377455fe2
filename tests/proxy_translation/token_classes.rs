//! Each token class at its own catalog rate, against costs computed by hand: OpenAI's cached
//! tokens, Anthropic's cache reads and writes, Gemini's cached content, reasoning (output),
//! on the plain and the streamed path.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use crate::helpers::Backend;
use crate::upstream::{spawn_gateway, Gateway};

both!(
    openai_cached_and_reasoning,
    anthropic_cache_reads_and_writes,
    gemini_cached_content,
    every_inbound_protocol_prices_alike
);

/// The cost the usage log recorded for the tenant's only request, in USD.
async fn logged_cost(g: &Gateway, project: &str) -> f64 {
    only_log(g, project).await["cost_usd"].as_f64().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

async fn ask(g: &Gateway, token: &str, model: &str, stream: bool) {
    let r = g
        .chat(token, json!({"model": model, "stream": stream, "max_tokens": 100,
                            "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
                            "messages": [{"role": "user", "content": "Hi"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn openai_cached_and_reasoning(backend: Backend) {
    // gpt-4o-mini: input $0.15, cached input $0.075, output $0.60 per million tokens.
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300,
                       "prompt_tokens_details": {"cached_tokens": 400},
                       "completion_tokens_details": {"reasoning_tokens": 200}});
    let expected = (600.0 * 0.15 + 400.0 * 0.075 + 300.0 * 0.6) / 1e6;
    for stream in [false, true] {
        let g = spawn_gateway(backend).await;
        let answer = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": usage});
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]});
        let last = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [], "usage": usage});
        match stream {
            false => mount_json(&g, "/openai/v1/chat/completions", 200, answer, false).await,
            true => {
                mount_sse(
                    &g,
                    "/openai/v1/chat/completions",
                    format!("data: {chunk}\n\ndata: {last}\n\ndata: [DONE]\n\n"),
                )
                .await
            }
        }
        let t = g.tenant("credits", 5.0, &[], None).await;
        ask(&g, &t.token, "gpt-4o-mini", stream).await;
        let cost = logged_cost(&g, &t.project).await;
        assert!(
            close(cost, expected),
            "stream {stream}: {cost} != {expected}"
        );
    }
}

async fn anthropic_cache_reads_and_writes(backend: Backend) {
    // claude-sonnet-4-5: input $3, cache read $0.30, cache write $3.75, output $15 per Mtok.
    let expected = (50.0 * 3.0 + 1000.0 * 0.3 + 200.0 * 3.75 + 40.0 * 15.0) / 1e6;
    let usage = json!({"input_tokens": 50, "cache_read_input_tokens": 1000,
                       "cache_creation_input_tokens": 200, "output_tokens": 40});
    for stream in [false, true] {
        let g = spawn_gateway(backend).await;
        let model = "claude-sonnet-4-5-20250929";
        if stream {
            let events = [
                json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
                    "content": [], "model": model, "stop_reason": null, "usage": usage}}),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 40}}),
                json!({"type": "message_stop"}),
            ];
            let sse: String = events
                .iter()
                .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
                .collect();
            mount_sse(&g, "/anthropic/v1/messages", sse).await;
        } else {
            let answer = json!({"id": "m", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": usage});
            mount_json(&g, "/anthropic/v1/messages", 200, answer, false).await;
        }
        let t = g.tenant("credits", 5.0, &[], None).await;
        ask(&g, &t.token, "claude-sonnet-4-5", stream).await;
        let cost = logged_cost(&g, &t.project).await;
        assert!(
            close(cost, expected),
            "stream {stream}: {cost} != {expected}"
        );
        let log = only_log(&g, &t.project).await;
        assert_eq!(log["prompt_tokens"], 1250);
        assert_eq!(log["cached_tokens"], 1000);
        assert_eq!(log["cache_creation_tokens"], 200);
    }
}

async fn gemini_cached_content(backend: Backend) {
    // gemini-2.5-flash: input $0.30, cached $0.03, output $2.50 per Mtok; thoughts are output.
    let usage = json!({"promptTokenCount": 800, "cachedContentTokenCount": 500,
                       "candidatesTokenCount": 60, "thoughtsTokenCount": 40, "totalTokenCount": 900});
    let expected = (300.0 * 0.3 + 500.0 * 0.03 + 100.0 * 2.5) / 1e6;
    let g = spawn_gateway(backend).await;
    let answer = json!({"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"},
        "finishReason": "STOP", "index": 0}], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"});
    mount_json(
        &g,
        "/google/v1beta/models/gemini-2.5-flash:generateContent",
        200,
        answer,
        false,
    )
    .await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    ask(&g, &t.token, "gemini-2.5-flash", false).await;
    let cost = logged_cost(&g, &t.project).await;
    assert!(close(cost, expected), "{cost} != {expected}");
}

/// The same Anthropic usage through `/v1/messages` and `/v1/responses`: the same cost, and
/// each protocol reports the classes its own way.
async fn every_inbound_protocol_prices_alike(backend: Backend) {
    let expected = (50.0 * 3.0 + 1000.0 * 0.3 + 200.0 * 3.75 + 40.0 * 15.0) / 1e6;
    let usage = json!({"input_tokens": 50, "cache_read_input_tokens": 1000,
                       "cache_creation_input_tokens": 200, "output_tokens": 40});
    let answer = json!({"id": "m", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn", "usage": usage});
    for (path, body) in [
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}),
        ),
        (
            "/v1/responses",
            json!({"model": "claude-sonnet-4-5", "max_output_tokens": 100, "input": "Hi"}),
        ),
    ] {
        let g = spawn_gateway(backend).await;
        mount_json(&g, "/anthropic/v1/messages", 200, answer.clone(), false).await;
        let t = g.tenant("credits", 5.0, &[], None).await;
        let r = g.post_v1(path, &t.token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        match path {
            "/v1/messages" => {
                assert_eq!(r.body["usage"]["input_tokens"], 50, "{}", r.text);
                assert_eq!(r.body["usage"]["cache_read_input_tokens"], 1000);
                assert_eq!(r.body["usage"]["cache_creation_input_tokens"], 200);
            }
            _ => {
                assert_eq!(r.body["usage"]["input_tokens"], 1250, "{}", r.text);
                assert_eq!(
                    r.body["usage"]["input_tokens_details"]["cached_tokens"],
                    1000
                );
            }
        }
        let cost = logged_cost(&g, &t.project).await;
        assert!(close(cost, expected), "{path}: {cost} != {expected}");
    }
}
