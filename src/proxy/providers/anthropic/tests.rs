use serde_json::{json, Value};

use super::translate::*;
use super::StreamState;
use crate::proxy::providers::types::{TranslateError, Usage};

const MODEL: &str = "claude-sonnet-4-5";

fn req(body: Value) -> Value {
    match request(&body, MODEL, false) {
        Ok(v) => v,
        Err(e) => panic!("request failed: {e}"),
    }
}

/// The `param` of the InvalidRequest error the body must produce.
fn rejected(body: Value) -> Option<String> {
    match request(&body, MODEL, false) {
        Err(TranslateError::InvalidRequest { param, .. }) => param,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn resp(body: Value) -> (Value, Usage) {
    match response(&body, "claude-sonnet", 1_700_000_000) {
        Ok(r) => r,
        Err(e) => panic!("response failed: {e}"),
    }
}

#[test]
fn system_and_multi_turn() {
    let out = req(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "How are you?"},
            {"role": "user", "content": [{"type": "text", "text": "Be brief."}]}
        ],
        "max_completion_tokens": 256,
        "temperature": 1.6,
        "top_p": 0.9,
        "stop": "END",
        "user": "user-42",
        "seed": 7,
        "stream_options": {"include_usage": true}
    }));
    assert_eq!(
        out,
        json!({
            "model": MODEL,
            "system": "You are terse.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": [
                    {"type": "text", "text": "How are you?"},
                    {"type": "text", "text": "Be brief."}
                ]}
            ],
            "max_tokens": 256,
            "stream": false,
            "temperature": 1.0,
            "top_p": 0.9,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "user-42"}
        })
    );
}

#[test]
fn defaults_and_streaming_flag() {
    let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": null});
    let out = request(&body, MODEL, true).unwrap_or_default();
    assert_eq!(out["max_tokens"], 4096);
    assert_eq!(out["stream"], true);
    assert!(out.get("system").is_none());
    assert!(out.get("tool_choice").is_none());
    let stops = req(json!({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b"]}));
    assert_eq!(stops["stop_sequences"], json!(["a", "b"]));
}

#[test]
fn images_base64_and_url() {
    let out = req(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare these."},
            {"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
        ])
    );
    let bad = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}}
    ]}]});
    assert_eq!(rejected(bad).as_deref(), Some("messages"));
}

#[test]
fn tool_call_round_trip() {
    let out = req(json!({
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "toolu_01", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_02", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18C, cloudy"},
            {"role": "tool", "tool_call_id": "toolu_02",
             "content": [{"type": "text", "text": "24C, sunny"}]}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}
        }}, {"type": "function", "function": {"name": "now"}}]
    }));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_weather",
                 "input": {"city": "Rome"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, cloudy"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "24C, sunny"}
            ]}
        ])
    );
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Current weather for a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}}
        ])
    );
}

#[test]
fn tool_choice_variants() {
    let with = |choice: Value, parallel: Value| {
        req(json!({
            "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": choice,
            "parallel_tool_calls": parallel
        }))["tool_choice"]
            .clone()
    };
    assert_eq!(with(json!("auto"), Value::Null), json!({"type": "auto"}));
    assert_eq!(with(json!("required"), Value::Null), json!({"type": "any"}));
    assert_eq!(with(json!("none"), Value::Null), json!({"type": "none"}));
    let named = json!({"type": "function", "function": {"name": "f"}});
    assert_eq!(
        with(named, Value::Null),
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(
        with(json!("required"), json!(false)),
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        with(Value::Null, json!(false)),
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(with(Value::Null, json!(true)), Value::Null);
    let bad = json!({"messages": [{"role": "user", "content": "Hi"}], "tool_choice": "sometimes"});
    assert_eq!(rejected(bad).as_deref(), Some("tool_choice"));
}

#[test]
fn rejects_bad_requests() {
    let n = json!({"messages": [{"role": "user", "content": "Hi"}], "n": 2});
    assert_eq!(rejected(n).as_deref(), Some("n"));
    let args = json!({"messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": "{\"city\": "}}]}
    ]});
    assert_eq!(rejected(args).as_deref(), Some("messages"));
    let only_system = json!({"messages": [{"role": "system", "content": "Be nice."}]});
    let empty = [
        json!({"messages": []}),
        json!({"messages": "hi"}),
        only_system,
    ];
    for body in empty.into_iter().chain([json!({})]) {
        assert_eq!(rejected(body).as_deref(), Some("messages"));
    }
    assert_eq!(rejected(json!([1, 2])), None);
}

#[test]
fn response_format_goes_to_system() {
    let out = req(json!({
        "messages": [{"role": "system", "content": "Extract people."},
                     {"role": "user", "content": "Ann is 31."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person",
            "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}}
    }));
    let system = out["system"].as_str().unwrap_or_default();
    assert!(system.starts_with("Extract people.\n\n"));
    assert!(system.contains("only a valid JSON object"));
    let schema = json!({"type": "object", "properties": {"age": {"type": "integer"}}});
    assert!(system.ends_with(&format!("JSON Schema:\n{schema}")));
    let out = req(json!({"messages": [{"role": "user", "content": "x"}],
                         "response_format": {"type": "json_object"}}));
    assert_eq!(
        out["system"],
        "Respond with only a valid JSON object, with no other text before or after it."
    );
}

#[test]
fn response_with_text() {
    let body = json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "thinking", "thinking": "Simple greeting.", "signature": "abc"},
            {"type": "text", "text": "Hello! "},
            {"type": "text", "text": "How can I help?"}
        ],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 6}
    });
    let (out, usage) = resp(body);
    assert_eq!(
        out,
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "claude-sonnet",
            "choices": [{"index": 0,
                         "message": {"role": "assistant", "content": "Hello! How can I help?"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18,
                      "prompt_tokens_details": {"cached_tokens": 0}}
        })
    );
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (12, 6));
}

#[test]
fn response_with_tool_use_and_cache_usage() {
    let body = json!({
        "id": "msg_02",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                     "name": "get_weather", "input": {"location": "San Francisco, CA"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 50, "cache_creation_input_tokens": 200,
                  "cache_read_input_tokens": 1000, "output_tokens": 40}
    });
    let (out, usage) = resp(body);
    let message = &out["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(
        message["tool_calls"],
        json!([{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                "function": {"name": "get_weather",
                             "arguments": "{\"location\":\"San Francisco, CA\"}"}}])
    );
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!((usage.prompt_tokens, usage.cached_tokens), (1250, 1000));
    assert_eq!(usage.cache_creation_tokens, 200);
    assert_eq!((usage.completion_tokens, usage.reasoning_tokens), (40, 0));
    assert_eq!(out["usage"]["total_tokens"], 1290);
    assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 1000);
}

#[test]
fn response_errors() {
    let no_content = response(&json!({"id": "msg", "type": "message"}), "m", 1);
    assert!(matches!(no_content, Err(TranslateError::BadUpstream(_))));
    let err = json!({"type": "error",
                     "error": {"type": "overloaded_error", "message": "Overloaded"}});
    assert_eq!(error_message(&err).as_deref(), Some("Overloaded"));
    assert_eq!(error_message(&json!({"message": "x"})), None);
    let overloaded = Err(TranslateError::BadUpstream("Overloaded".into()));
    assert_eq!(response(&err, "m", 1), overloaded);
}

/// Feeds each event under the name its `type` carries, as Anthropic's SSE does; returns all chunks.
fn run(state: &mut StreamState, events: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for data in events {
        let event = data["type"].as_str().unwrap_or_default();
        match state.on_event(event, data) {
            Ok(chunks) => out.extend(chunks),
            Err(e) => panic!("{event}: {e}"),
        }
    }
    out
}

fn message_start(input: u64) -> Value {
    json!({"type": "message_start", "message": {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant",
        "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": input, "cache_read_input_tokens": 5, "output_tokens": 1}}})
}

fn block_start(index: u64, block: Value) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": block})
}

fn block_delta(index: u64, delta: Value) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": delta})
}

fn text_delta(index: u64, text: &str) -> Value {
    block_delta(index, json!({"type": "text_delta", "text": text}))
}

fn json_delta(index: u64, partial: &str) -> Value {
    block_delta(
        index,
        json!({"type": "input_json_delta", "partial_json": partial}),
    )
}

fn block_stop(index: u64) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_delta(stop_reason: &str, output_tokens: u64) -> Value {
    json!({"type": "message_delta",
           "delta": {"stop_reason": stop_reason, "stop_sequence": null},
           "usage": {"output_tokens": output_tokens}})
}

#[test]
fn text_stream() {
    let mut state = StreamState::new("claude", 42);
    let chunks = run(
        &mut state,
        &[
            message_start(25),
            block_start(0, json!({"type": "text", "text": ""})),
            json!({"type": "ping"}),
            text_delta(0, "Hello"),
            text_delta(0, "!"),
            block_stop(0),
            message_delta("end_turn", 15),
        ],
    );
    assert!(!state.is_done());
    assert!(run(&mut state, &[json!({"type": "message_stop"})]).is_empty());
    assert!(state.is_done());
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    let expected = [
        json!({"role": "assistant", "content": ""}),
        json!({"content": "Hello"}),
        json!({"content": "!"}),
        json!({}),
    ];
    assert_eq!(deltas, expected.iter().collect::<Vec<_>>());
    assert_eq!(
        chunks[1],
        json!({"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "object": "chat.completion.chunk",
               "created": 42, "model": "claude",
               "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]})
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    let usage = state.usage();
    assert_eq!((usage.prompt_tokens, usage.cached_tokens), (30, 5));
    assert_eq!(usage.completion_tokens, 15);
}

#[test]
fn tool_use_stream() {
    let mut state = StreamState::new("claude", 42);
    let chunks = run(
        &mut state,
        &[
            message_start(400),
            block_start(0, json!({"type": "text", "text": ""})),
            text_delta(0, "Let me check."),
            block_stop(0),
            block_start(
                1,
                json!({"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                       "name": "get_weather", "input": {}}),
            ),
            json_delta(1, ""),
            json_delta(1, "{\"location\": \"San Fra"),
            json_delta(1, "ncisco, CA\"}"),
            block_stop(1),
            block_start(
                2,
                json!({"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}),
            ),
            json_delta(2, "{}"),
            block_stop(2),
            message_delta("tool_use", 89),
            json!({"type": "message_stop"}),
        ],
    );
    assert!(state.is_done());
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[1], &json!({"content": "Let me check."}));
    assert_eq!(
        deltas[2],
        &json!({"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})
    );
    assert_eq!(deltas[5]["tool_calls"][0]["index"], 1);
    assert_eq!(deltas[5]["tool_calls"][0]["function"]["name"], "get_time");
    // Reassemble each call's arguments as an OpenAI client would.
    let mut args = [String::new(), String::new()];
    for d in &deltas {
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap_or(9) as usize;
            args[i].push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(args, ["{\"location\": \"San Francisco, CA\"}", "{}"]);
    let last = chunks.last().cloned().unwrap_or_default();
    let finish = json!({"index": 0, "delta": {}, "finish_reason": "tool_calls"});
    assert_eq!(last["choices"][0], finish);
    assert_eq!(state.usage().prompt_tokens, 405);
    assert_eq!(state.usage().completion_tokens, 89);
}

#[test]
fn stream_error_event() {
    let mut state = StreamState::new("claude", 42);
    let _ = run(&mut state, &[message_start(10)]);
    let err = json!({"type": "error",
                     "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let overloaded = Err(TranslateError::BadUpstream("Overloaded".into()));
    assert_eq!(state.on_event("error", &err), overloaded);
    // Without an `event:` line, the data's own type is used.
    assert_eq!(state.on_event("", &err), overloaded);
    let mut fresh = StreamState::new("claude", 42);
    let early = fresh.on_event("content_block_delta", &text_delta(0, "x"));
    assert!(matches!(early, Err(TranslateError::BadUpstream(_))));
    assert!(!fresh.is_done());
}

#[test]
fn cache_writes_reach_the_chat_usage() {
    let body = json!({"id": "m", "type": "message", "role": "assistant", "model": "x",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 50, "cache_read_input_tokens": 1000,
                  "cache_creation_input_tokens": 200, "output_tokens": 40}});
    let (out, _) = resp(body);
    assert_eq!(
        out["usage"]["prompt_tokens_details"]["cache_creation_tokens"], 200,
        "{out}"
    );
}
