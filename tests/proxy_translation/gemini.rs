//! OpenAI chat completions <-> Gemini generateContent / streamGenerateContent, end to end.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use crate::helpers::Backend;
use crate::payloads::gemini::*;
use crate::upstream::spawn_gateway;

both!(
    text_round_trip,
    tool_call_round_trip,
    streamed_text,
    streamed_tool_call,
    upstream_error_passes_through
);

const GENERATE: &str = "/google/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM: &str = "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent";

async fn text_round_trip(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let body = answer(
        json!([{"text": "The capital of France is Paris."}]),
        Some("STOP"),
        usage(14, Some(8), Some(30)),
    );
    mount_json(&g, GENERATE, 200, body, false).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL,
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

    let sent = bodies(&g, GENERATE).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0],
        json!({
            "systemInstruction": {"parts": [{"text": "You are a terse geography assistant."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Hello! Ask me about places."}]},
                {"role": "user", "parts": [{"text": "What is the capital of France?"}]}
            ],
            "generationConfig": {"maxOutputTokens": 256, "temperature": 0.5, "topP": 0.9,
                                 "stopSequences": ["###"]}
        })
    );
    assert_eq!(
        header_values(&g, GENERATE, "x-goog-api-key").await,
        ["gw-google"]
    );

    assert_eq!(r.headers["x-tollgate-provider"], "google");
    let b = &r.body;
    assert_eq!(b["object"], "chat.completion");
    assert!(
        b["id"].as_str().unwrap().starts_with("chatcmpl-"),
        "{}",
        r.text
    );
    assert_eq!(b["model"], MODEL);
    assert_eq!(b["choices"].as_array().unwrap().len(), 1);
    assert_eq!(b["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        b["choices"][0]["message"]["content"],
        "The capital of France is Paris."
    );
    assert!(b["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(b["choices"][0]["finish_reason"], "stop");
    // Thinking tokens are output tokens: OpenAI counts them in completion_tokens.
    assert_eq!(b["usage"]["prompt_tokens"], 14);
    assert_eq!(b["usage"]["completion_tokens"], 38);
    assert_eq!(b["usage"]["total_tokens"], 52, "Gemini's totalTokenCount");
    assert_eq!(
        b["usage"]["completion_tokens_details"]["reasoning_tokens"],
        30
    );

    let log = only_log(&g, &tenant.project).await;
    assert_eq!(log["provider"], "google");
    assert_eq!(log["model"], MODEL);
    assert_eq!(
        (
            log["prompt_tokens"].as_u64(),
            log["completion_tokens"].as_u64()
        ),
        (Some(14), Some(38))
    );
    assert_eq!(log["reasoning_tokens"], 30);
    assert_eq!(log["estimated"], false);
    assert_eq!(log["streamed"], false);
    assert_eq!(log["status"], 200);
}

async fn tool_call_round_trip(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let call = json!([{"functionCall": {"name": "get_weather", "args": paris()}}]);
    mount_json(
        &g,
        GENERATE,
        200,
        answer(call, Some("STOP"), usage(70, Some(18), None)),
        true,
    )
    .await;
    let text = json!([{"text": "It is 18°C and partly cloudy in Paris."}]);
    mount_json(
        &g,
        GENERATE,
        200,
        answer(text, Some("STOP"), usage(112, Some(14), None)),
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
    let sent = bodies(&g, GENERATE).await;
    assert_eq!(
        sent[0]["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather",
            "description": "Get the current weather in a given city",
            "parameters": weather_schema()}]}])
    );
    assert_eq!(
        sent[0]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );

    let choice = &r.body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{}", r.text);
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"]
        .as_array()
        .expect("tool_calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let id = calls[0]["id"].as_str().expect("a tool call id").to_string();
    let args = calls[0]["function"]["arguments"]
        .as_str()
        .expect("arguments are a string");
    assert_eq!(serde_json::from_str::<Value>(args).unwrap(), paris());
    assert_eq!(
        (
            r.body["usage"]["prompt_tokens"].as_u64(),
            r.body["usage"]["completion_tokens"].as_u64()
        ),
        (Some(70), Some(18))
    );

    // Second turn: Gemini matches results to calls by function name, not by id.
    let assistant = choice["message"].clone();
    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL, "tools": [weather_tool()], "tool_choice": "auto",
                "messages": [question, assistant,
                    {"role": "tool", "tool_call_id": id, "content": WEATHER_RESULT}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = bodies(&g, GENERATE).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1]["contents"],
        json!([
            {"role": "user", "parts": [{"text": "What's the weather like in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": paris()}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"temperature": 18, "condition": "partly cloudy"}}}]}
        ])
    );
    assert_eq!(
        sent[1]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    let choice = &r.body["choices"][0];
    assert_eq!(
        choice["message"]["content"],
        "It is 18°C and partly cloudy in Paris."
    );
    assert_eq!(choice["finish_reason"], "stop");
}

async fn streamed_text(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let events = [
        answer(json!([{"text": "Hello"}]), None, usage(5, None, None)),
        answer(json!([{"text": "! How can I"}]), None, usage(5, None, None)),
        answer(
            json!([{"text": " help you today?"}]),
            Some("STOP"),
            usage(5, Some(9), Some(21)),
        ),
    ];
    mount_sse(&g, STREAM, sse(&events)).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let body = json!({
        "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
        "max_tokens": 1024,
        "messages": [{"role": "system", "content": "Be friendly."}, {"role": "user", "content": "Hello"}]
    });
    let r = g.chat(&tenant.token, body.clone()).await;
    let chunks = sse_chunks(&r);
    assert_eq!(r.headers["x-tollgate-provider"], "google");
    let received = g.received(STREAM).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].url.query(), Some("alt=sse"));
    assert_eq!(
        header_values(&g, STREAM, "x-goog-api-key").await,
        ["gw-google"]
    );
    let sent = bodies(&g, STREAM).await;
    assert_eq!(
        sent[0]["systemInstruction"],
        json!({"parts": [{"text": "Be friendly."}]})
    );
    assert_eq!(
        sent[0]["generationConfig"],
        json!({"maxOutputTokens": 1024})
    );

    assert_eq!(joined_content(&chunks), "Hello! How can I help you today?");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    assert!(
        chunks.iter().all(|c| c["id"] == id && c["model"] == MODEL),
        "{}",
        r.text
    );
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1, "{}", r.text);
    assert!(
        std::ptr::eq(usage[0], chunks.last().unwrap()),
        "usage comes last"
    );
    assert_eq!(usage[0]["usage"]["prompt_tokens"], 5);
    assert_eq!(usage[0]["usage"]["completion_tokens"], 30);
    assert_eq!(usage[0]["usage"]["total_tokens"], 35);

    let log = only_log(&g, &tenant.project).await;
    assert_eq!(log["streamed"], true);
    assert_eq!(log["estimated"], false);
    assert_eq!(
        (
            log["prompt_tokens"].as_u64(),
            log["completion_tokens"].as_u64()
        ),
        (Some(5), Some(30))
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
        logs.iter().all(|l| l["prompt_tokens"] == 5
            && l["completion_tokens"] == 30
            && l["streamed"] == true
            && l["estimated"] == false),
        "{logs:?}"
    );
}

async fn streamed_tool_call(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let events = [
        answer(
            json!([{"functionCall": {"name": "get_weather", "args": paris()}}]),
            None,
            usage(70, None, None),
        ),
        answer(
            json!([{"text": ""}]),
            Some("STOP"),
            usage(70, Some(18), None),
        ),
    ];
    mount_sse(&g, STREAM, sse(&events)).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;

    let r = g
        .chat(
            &tenant.token,
            json!({
                "model": MODEL, "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "What's the weather like in Paris?"}],
                "tools": [weather_tool()], "tool_choice": "required"
            }),
        )
        .await;
    let chunks = sse_chunks(&r);
    let sent = bodies(&g, STREAM).await;
    assert_eq!(
        sent[0]["tools"][0]["functionDeclarations"][0]["parameters"],
        weather_schema()
    );
    assert_eq!(
        sent[0]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );

    assert_eq!(joined_content(&chunks), "");
    let (id, name, args) = joined_call(&chunks);
    assert!(!id.is_empty(), "{}", r.text);
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&args).expect("arguments parse"),
        paris()
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"], "{}", r.text);
    let usage = usage_chunks(&chunks);
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (
            usage[0]["usage"]["prompt_tokens"].as_u64(),
            usage[0]["usage"]["completion_tokens"].as_u64()
        ),
        (Some(70), Some(18))
    );
}

async fn upstream_error_passes_through(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let message =
        "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).";
    let error = json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}});
    mount_json(&g, GENERATE, 400, error.clone(), false).await;
    mount_json(&g, STREAM, 400, error, false).await;
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
    assert_eq!(g.received(STREAM).await.len(), 1);

    let logs = g.usage_logs(&tenant.project, 2).await;
    for log in &logs {
        assert_eq!(
            (log["status"].as_u64(), log["error_code"].as_str()),
            (Some(400), Some("upstream_error")),
            "{log}"
        );
    }
}
