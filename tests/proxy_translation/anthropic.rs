//! OpenAI chat completions <-> Anthropic Messages, end to end.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use crate::helpers::Backend;
use crate::payloads::anthropic::*;
use crate::upstream::spawn_gateway;

both!(
    text_round_trip,
    tool_call_round_trip,
    streamed_text,
    streamed_tool_call,
    upstream_error_passes_through,
    translated_answers_are_cached
);

const MESSAGES: &str = "/anthropic/v1/messages";
const MODEL: &str = "anthropic/claude-sonnet-4-5";

async fn text_round_trip(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let answer = json!([{"type": "text", "text": "The capital of France is Paris."}]);
    mount_json(
        &g,
        MESSAGES,
        200,
        message("msg_01XFDUDYJgAACzvnptvVoYEL", answer, "end_turn", 21, 9),
        false,
    )
    .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    // The unprefixed catalog id resolves to Anthropic's dated model.
    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": "claude-sonnet-4-5",
                "messages": [
                    {"role": "system", "content": "You are a terse geography assistant."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello! Ask me about places."},
                    {"role": "user", "content": "What is the capital of France?"}
                ],
                "max_tokens": 256, "temperature": 0.5, "top_p": 0.9, "stop": ["###"]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let sent = bodies(&g, MESSAGES).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0],
        json!({
            "model": UPSTREAM_MODEL,
            "system": "You are a terse geography assistant.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! Ask me about places."},
                {"role": "user", "content": "What is the capital of France?"}
            ],
            "max_tokens": 256, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["###"],
            "stream": false
        })
    );
    assert_eq!(
        header_values(&g, MESSAGES, "x-api-key").await,
        ["gw-anthropic"]
    );
    assert_eq!(
        header_values(&g, MESSAGES, "anthropic-version").await,
        ["2023-06-01"]
    );

    assert_eq!(r.headers["x-tollgate-provider"], "anthropic");
    let b = &r.body;
    assert_eq!(b["object"], "chat.completion");
    assert_eq!(b["id"], "msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(b["model"], "claude-sonnet-4-5");
    assert_eq!(b["choices"].as_array().unwrap().len(), 1);
    assert_eq!(b["choices"][0]["index"], 0);
    assert_eq!(b["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        b["choices"][0]["message"]["content"],
        "The capital of France is Paris."
    );
    assert!(b["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(b["choices"][0]["finish_reason"], "stop");
    assert_eq!(b["usage"]["prompt_tokens"], 21);
    assert_eq!(b["usage"]["completion_tokens"], 9);
    assert_eq!(b["usage"]["total_tokens"], 30);

    let log = only_log(&g, &tenant.project).await;
    assert_eq!(log["provider"], "anthropic");
    assert_eq!(log["model"], "claude-sonnet-4-5");
    assert_eq!(
        (
            log["prompt_tokens"].as_u64(),
            log["completion_tokens"].as_u64()
        ),
        (Some(21), Some(9))
    );
    assert_eq!(log["estimated"], false);
    assert_eq!(log["streamed"], false);
    assert_eq!(log["status"], 200);
}

async fn tool_call_round_trip(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let call = json!({"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                      "name": "get_weather", "input": paris()});
    mount_json(
        &g,
        MESSAGES,
        200,
        message("msg_01Aq9w938a90dw8q", json!([call]), "tool_use", 384, 58),
        true,
    )
    .await;
    let final_text = json!([{"type": "text", "text": "It is 18°C and partly cloudy in Paris."}]);
    mount_json(
        &g,
        MESSAGES,
        200,
        message("msg_01Bq9w938a90dw8r", final_text, "end_turn", 466, 16),
        false,
    )
    .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let question = json!({"role": "user", "content": "What's the weather like in Paris?"});
    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL, "messages": [question], "tools": [weather_tool()],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = bodies(&g, MESSAGES).await;
    assert_eq!(
        sent[0]["tools"],
        json!([{"name": "get_weather", "description": "Get the current weather in a given city",
                "input_schema": weather_schema()}])
    );
    assert_eq!(
        sent[0]["tool_choice"],
        json!({"type": "tool", "name": "get_weather"})
    );

    let choice = &r.body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{}", r.text);
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"]
        .as_array()
        .expect("tool_calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args = calls[0]["function"]["arguments"]
        .as_str()
        .expect("arguments are a string");
    assert_eq!(serde_json::from_str::<Value>(args).unwrap(), paris());
    assert_eq!(
        (
            r.body["usage"]["prompt_tokens"].as_u64(),
            r.body["usage"]["completion_tokens"].as_u64()
        ),
        (Some(384), Some(58))
    );

    // Second turn: the assistant's tool call and the tool's result go back to Anthropic.
    let assistant = choice["message"].clone();
    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL, "tools": [weather_tool()], "tool_choice": "auto",
                "messages": [question, assistant,
                    {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9",
                     "content": WEATHER_RESULT}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = bodies(&g, MESSAGES).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1]["messages"],
        json!([
            {"role": "user", "content": "What's the weather like in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": paris()}]},
            {"role": "user", "content": [{"type": "tool_result",
                "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": WEATHER_RESULT}]}
        ])
    );
    assert_eq!(sent[1]["tool_choice"], json!({"type": "auto"}));
    let choice = &r.body["choices"][0];
    assert_eq!(
        choice["message"]["content"],
        "It is 18°C and partly cloudy in Paris."
    );
    assert_eq!(choice["finish_reason"], "stop");
}

async fn streamed_text(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let id = "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY";
    let mut events = vec![
        message_start(id, 25),
        block_start(0, json!({"type": "text", "text": ""})),
        json!({"type": "ping"}),
        text_delta(0, "Hello"),
        text_delta(0, "! How can I"),
        text_delta(0, " help you today?"),
        block_stop(0),
    ];
    events.extend(message_end("end_turn", 15));
    mount_sse(&g, MESSAGES, sse(&events)).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let body = json!({
        "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
        "max_tokens": 1024,
        "messages": [{"role": "system", "content": "Be friendly."}, {"role": "user", "content": "Hello"}]
    });
    let r = g.chat(&tenant.token, body.clone()).await;
    let chunks = sse_chunks(&r);
    assert_eq!(r.headers["x-tollgate-provider"], "anthropic");
    let sent = bodies(&g, MESSAGES).await;
    assert_eq!(sent[0]["stream"], true);
    assert_eq!(sent[0]["system"], "Be friendly.");
    assert_eq!(sent[0]["max_tokens"], 1024);
    assert!(sent[0].get("stream_options").is_none(), "{}", sent[0]);

    assert_eq!(joined_content(&chunks), "Hello! How can I help you today?");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    for c in &chunks {
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], MODEL);
    }
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", r.text);
    assert!(
        std::ptr::eq(usage[0], chunks.last().unwrap()),
        "usage comes last"
    );
    assert_eq!(usage[0]["usage"]["prompt_tokens"], 25);
    assert_eq!(usage[0]["usage"]["completion_tokens"], 15);
    assert_eq!(usage[0]["usage"]["total_tokens"], 40);

    let log = only_log(&g, &tenant.project).await;
    assert_eq!(log["streamed"], true);
    assert_eq!(log["estimated"], false);
    assert_eq!(
        (
            log["prompt_tokens"].as_u64(),
            log["completion_tokens"].as_u64()
        ),
        (Some(25), Some(15))
    );

    // Without include_usage, no usage chunk; the usage is still recorded.
    let mut plain = body;
    plain.as_object_mut().unwrap().remove("stream_options");
    let r = g.chat(&tenant.token, plain).await;
    let chunks = sse_chunks(&r);
    assert_eq!(joined_content(&chunks), "Hello! How can I help you today?");
    assert!(usage_chunks(&chunks).is_empty(), "{}", r.text);
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "{}",
        r.text
    );
    let logs = g.usage_logs(&tenant.project, 2).await;
    assert!(
        logs.iter().all(|l| l["prompt_tokens"] == 25
            && l["completion_tokens"] == 15
            && l["streamed"] == true
            && l["estimated"] == false),
        "{logs:?}"
    );
}

async fn streamed_tool_call(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let mut events = vec![
        message_start("msg_014p7gG3wDgGV9EUtLvnow3U", 472),
        block_start(0, json!({"type": "text", "text": ""})),
        json!({"type": "ping"}),
        text_delta(0, "Okay, let me check the weather in Paris."),
        block_stop(0),
        block_start(
            1,
            json!({"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                              "name": "get_weather", "input": {}}),
        ),
        json_delta(1, ""),
        json_delta(1, "{\"location\":"),
        json_delta(1, " \"Paris\""),
        json_delta(1, ", \"unit\": \"cel"),
        json_delta(1, "sius\"}"),
        block_stop(1),
    ];
    events.extend(message_end("tool_use", 89));
    mount_sse(&g, MESSAGES, sse(&events)).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "What's the weather like in Paris?"}],
                "tools": [weather_tool()], "tool_choice": "auto"
            }),
        )
        .await;
    let chunks = sse_chunks(&r);
    let sent = bodies(&g, MESSAGES).await;
    assert_eq!(sent[0]["tools"][0]["input_schema"], weather_schema());
    assert_eq!(sent[0]["tool_choice"], json!({"type": "auto"}));

    assert_eq!(
        joined_content(&chunks),
        "Okay, let me check the weather in Paris."
    );
    let (id, name, args) = joined_call(&chunks);
    assert_eq!(id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&args).expect("arguments parse"),
        paris()
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (
            usage[0]["usage"]["prompt_tokens"].as_u64(),
            usage[0]["usage"]["completion_tokens"].as_u64()
        ),
        (Some(472), Some(89))
    );
}

async fn upstream_error_passes_through(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let message = "prompt is too long: 210000 tokens > 200000 maximum";
    mount_json(
        &g,
        MESSAGES,
        400,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message},
               "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}),
        false,
    )
    .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    // (A `max_tokens` above the model's maximum never reaches the provider: the gateway
    // refuses it itself, see tests/api/proxy_overflow.rs.)
    let mut body = json!({"model": MODEL, "max_tokens": 1000,
                          "messages": [{"role": "user", "content": "Write a novel."}]});
    let r = g.chat(&tenant.token, body.clone()).await;
    assert_upstream_error(&r, StatusCode::BAD_REQUEST, message);

    // A streaming request is refused the same way, before any event is sent.
    body["stream"] = json!(true);
    let r = g.chat(&tenant.token, body).await;
    assert_upstream_error(&r, StatusCode::BAD_REQUEST, message);

    let logs = g.usage_logs(&tenant.project, 2).await;
    for log in &logs {
        assert_eq!(
            (log["status"].as_u64(), log["error_code"].as_str()),
            (Some(400), Some("upstream_error")),
            "{log}"
        );
        assert_eq!(
            (
                log["prompt_tokens"].as_u64(),
                log["completion_tokens"].as_u64()
            ),
            (Some(0), Some(0)),
            "{log}"
        );
    }
}

/// Caching on a translated provider: the key is taken from the tree the translation builds,
/// and equals the one its text gives, so the same question with its members in another order
/// is a hit.
async fn translated_answers_are_cached(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let answer = json!([{"type": "text", "text": "Paris."}]);
    mount_json(
        &g,
        MESSAGES,
        200,
        message("msg_1", answer, "end_turn", 21, 9),
        false,
    )
    .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let caching = json!({"caching_enabled": true, "cache_duration_seconds": 300});
    let path = format!("/api/projects/{}", tenant.project);
    let r = g.t.patch(&path, crate::helpers::ADMIN, caching).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let ask = |text: &'static str| {
        g.t.client
            .post(format!("{}/v1/chat/completions", g.t.base))
            .bearer_auth(&tenant.token)
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    let first = ask(
        r#"{"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "What is the capital of France?"}]}"#,
    )
    .await
    .expect("sent");
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["x-tollgate-cache"], "MISS");
    let first = first.text().await.unwrap();
    let second = ask(
        r#"{"messages": [{"content": "What is the capital of France?",
        "role": "user"}], "max_tokens": 64, "model": "anthropic/claude-sonnet-4-5"}"#,
    )
    .await
    .expect("sent");
    assert_eq!(second.headers()["x-tollgate-cache"], "HIT");
    assert_eq!(second.text().await.unwrap(), first);
    assert_eq!(bodies(&g, MESSAGES).await.len(), 1);
}
