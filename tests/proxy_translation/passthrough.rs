//! Pass-through: `/v1/messages` to an Anthropic model and `/v1/responses` to an OpenAI model
//! reach the provider as the client wrote them (fields the chat shape has no place for
//! included), and the provider's answer or event stream comes back as it is, metered and
//! cached like any other.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use crate::helpers::{Backend, ADMIN};
use crate::payloads::anthropic::{message_start, sse, UPSTREAM_MODEL};
use crate::upstream::{spawn_gateway, Answer, Gateway};

both!(
    messages_reach_anthropic_as_written,
    messages_stream_passes_on_every_event,
    responses_reach_openai_as_written,
    responses_stream_passes_on_every_event,
    what_cannot_be_metered_is_refused
);

const ANTHROPIC: &str = "/anthropic/v1/messages";
const RESPONSES: &str = "/openai/v1/responses";

async fn post(
    g: &Gateway,
    path: &str,
    token: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> Answer {
    g.post_v1_with(path, token, body, headers).await
}

async fn cache_on(g: &Gateway, project: &str) {
    let r =
        g.t.patch(
            &format!("/api/projects/{project}"),
            ADMIN,
            json!({"caching_enabled": true, "cache_duration_seconds": 300}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

fn cache_status(r: &Answer) -> &str {
    r.headers["x-tollgate-cache"].to_str().unwrap()
}

async fn messages_reach_anthropic_as_written(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let content = json!([
        {"type": "thinking", "thinking": "The user greets me.", "signature": "sig=="},
        {"type": "text", "text": "Hello!"}
    ]);
    let usage = json!({"input_tokens": 50, "cache_read_input_tokens": 1000,
                       "cache_creation_input_tokens": 0, "output_tokens": 40});
    let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": UPSTREAM_MODEL,
        "content": content, "stop_reason": "end_turn", "stop_sequence": null, "usage": usage});
    mount_json(&g, ANTHROPIC, 200, answer.clone(), false).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    cache_on(&g, &t.project).await;
    let ask = json!({
        "model": "claude-sonnet-4-5", "models": ["gpt-4o-mini"], "max_tokens": 2048, "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "u-1"},
        "messages": [{"role": "user", "content": "Hi"}]
    });
    let r = post(&g, "/v1/messages", &t.token, ask.clone(), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The provider's answer as it came: the thinking block and its signature included.
    assert_eq!(r.body, answer);
    assert_eq!(cache_status(&r), "MISS");

    let sent = bodies(&g, ANTHROPIC).await;
    let mut expected = ask.clone();
    expected.as_object_mut().unwrap().remove("models");
    expected["model"] = json!(UPSTREAM_MODEL);
    expected["stream"] = json!(false);
    assert_eq!(sent[0], expected, "the body went as written");

    // Kept whole: the same request is a hit with the same answer; another `top_k` (which the
    // chat shape has no place for) is another entry.
    let hit = post(&g, "/v1/messages", &t.token, ask.clone(), &[]).await;
    assert_eq!(cache_status(&hit), "HIT");
    assert_eq!(hit.body, answer);
    let mut other = ask.clone();
    other["top_k"] = json!(6);
    let miss = post(&g, "/v1/messages", &t.token, other, &[]).await;
    assert_eq!(cache_status(&miss), "MISS");
    assert_eq!(bodies(&g, ANTHROPIC).await.len(), 2);

    // A kept answer asked for as a stream is replayed as Anthropic's events.
    let mut streamed = ask;
    streamed["stream"] = json!(true);
    let r = post(&g, "/v1/messages", &t.token, streamed, &[]).await;
    assert_eq!(cache_status(&r), "HIT", "{}", r.text);
    assert!(r.text.contains("event: message_start"), "{}", r.text);
    assert!(r.text.contains("Hello!"), "{}", r.text);

    // Priced by its token classes: 50 input at $3, 1000 cache reads at $0.30, 40 output at $15.
    let logs = g.usage_logs(&t.project, 4).await;
    let first = logs.iter().find(|l| l["cached"] == false).unwrap();
    assert_eq!(first["endpoint"], "messages");
    assert_eq!(first["cached_tokens"], 1000);
    let expected = (50.0 * 3.0 + 1000.0 * 0.3 + 40.0 * 15.0) / 1e6;
    assert!(
        (first["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{first}"
    );
}

async fn messages_stream_passes_on_every_event(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let events = [
        message_start("msg_2", 12),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi!"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 7}}),
        json!({"type": "message_stop"}),
    ];
    let upstream = sse(&events);
    mount_sse(&g, ANTHROPIC, upstream.clone()).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let ask = json!({"model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "Hi"}]});
    let r = post(
        &g,
        "/v1/messages",
        &t.token,
        ask,
        &[("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.text, upstream,
        "every event as the provider sent it, and nothing else"
    );
    assert_eq!(
        bodies(&g, ANTHROPIC).await[0]["thinking"]["budget_tokens"],
        1024
    );
    let log = only_log(&g, &t.project).await;
    assert_eq!(log["status"], 200);
    assert_eq!(log["prompt_tokens"], 12);
    assert_eq!(log["completion_tokens"], 7);
    assert_eq!(log["endpoint"], "messages");
}

fn response(output: Value, usage: Value) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
           "model": "gpt-4o-2024-08-06", "output": output, "usage": usage})
}

async fn responses_reach_openai_as_written(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let output = json!([
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thought."}]},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}
    ]);
    let usage = json!({"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
                       "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 200},
                       "total_tokens": 1300});
    let answer = response(output, usage);
    mount_json(&g, RESPONSES, 200, answer.clone(), false).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let ask = json!({"model": "gpt-4o-mini", "input": "Hi", "instructions": "Be kind.",
        "reasoning": {"effort": "low", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
        "store": false, "max_output_tokens": 500});
    let r = post(&g, "/v1/responses", &t.token, ask.clone(), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, answer, "the provider's response as it came");
    let sent = bodies(&g, RESPONSES).await;
    let mut expected = ask;
    expected["stream"] = json!(false);
    assert_eq!(sent[0], expected, "the body went as written");
    assert!(g.received("/openai/v1/chat/completions").await.is_empty());
    // gpt-4o-mini: input $0.15, cached $0.075, output $0.60 per Mtok (reasoning is output).
    let log = only_log(&g, &t.project).await;
    assert_eq!(log["endpoint"], "responses");
    let expected = (600.0 * 0.15 + 400.0 * 0.075 + 300.0 * 0.6) / 1e6;
    assert!(
        (log["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{log}"
    );
}

async fn responses_stream_passes_on_every_event(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let item = json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": "Hi!", "annotations": []}]});
    let usage = json!({"input_tokens": 9, "output_tokens": 3, "total_tokens": 12});
    let events = [
        json!({"type": "response.created", "sequence_number": 0, "response": response(json!([]), Value::Null)}),
        json!({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
               "output_index": 0, "content_index": 0, "delta": "Hi!"}),
        json!({"type": "response.output_item.done", "sequence_number": 2, "output_index": 0, "item": item}),
        json!({"type": "response.completed", "sequence_number": 3,
               "response": response(json!([item]), usage)}),
    ];
    let upstream = sse(&events);
    mount_sse(&g, RESPONSES, upstream.clone()).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let ask = json!({"model": "gpt-4o-mini", "input": "Hi", "stream": true});
    let r = post(&g, "/v1/responses", &t.token, ask, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.text, upstream,
        "every event as the provider sent it, and nothing else"
    );
    let log = only_log(&g, &t.project).await;
    assert_eq!(log["prompt_tokens"], 9);
    assert_eq!(log["completion_tokens"], 3);
    assert_eq!(log["streamed"], true);
}

async fn what_cannot_be_metered_is_refused(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let search = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
        "messages": [{"role": "user", "content": "News?"}]});
    let r = post(&g, "/v1/messages", &t.token, search, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert!(r.text.contains("server tools"), "{}", r.text);
    let background = json!({"model": "gpt-4o-mini", "input": "Hi", "background": true});
    let r = post(&g, "/v1/responses", &t.token, background, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["param"], "background");
    assert!(g.received(ANTHROPIC).await.is_empty());
    assert!(g.received(RESPONSES).await.is_empty());
}
