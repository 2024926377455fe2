use super::translate::*;
use super::StreamState;
use crate::proxy::providers::types::{TranslateError, Usage};
use serde_json::{json, Value};

/// The `param` of the InvalidRequest that `request` returns for `body`.
fn rejected(body: &Value) -> String {
    match request(body) {
        Err(TranslateError::InvalidRequest {
            param: Some(param), ..
        }) => param,
        other => panic!("expected InvalidRequest with a param for {body}, got {other:?}"),
    }
}

/// A one-message request with `extra` top-level fields.
fn user_says(text: &str, extra: Value) -> Value {
    let mut body = json!({"messages": [{"role": "user", "content": text}]});
    for (key, value) in extra.as_object().into_iter().flatten() {
        body[key] = value.clone();
    }
    body
}

fn tool_round_trip() -> Value {
    json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "user", "content": "Weather in Paris and the time in Tokyo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_abc", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_def", "type": "function",
                 "function": {"name": "get_time", "arguments": "{\"tz\":\"Asia/Tokyo\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_abc",
             "content": "{\"temp_c\":18,\"sky\":\"cloudy\"}"},
            {"role": "tool", "tool_call_id": "call_def", "content": "09:30"},
            {"role": "assistant", "content": "18°C and cloudy in Paris; 09:30 in Tokyo."}
        ],
        "tools": [
            {"type": "function",
             "function": {"name": "get_weather", "description": "Current weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time"}}
        ],
        "tool_choice": "auto"
    })
}

#[test]
fn system_and_multi_turn_with_generation_config() {
    let body = json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Bonjour."},
            {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
            {"role": "user", "content": "And the weather?"}
        ],
        "temperature": 0.7, "top_p": 0.9, "max_tokens": 256, "stop": "END", "n": 2,
        "seed": 42, "presence_penalty": 0.5, "frequency_penalty": -0.25, "stream": true
    });
    let expected = json!({
        "systemInstruction": {
            "parts": [{"text": "You are a terse assistant.\n\nAnswer in French."}]
        },
        "contents": [
            {"role": "user", "parts": [{"text": "Hello"}]},
            {"role": "model", "parts": [{"text": "Bonjour."}]},
            {"role": "user", "parts": [{"text": "How are you?"}, {"text": "And the weather?"}]}
        ],
        "generationConfig": {
            "temperature": 0.7, "topP": 0.9, "maxOutputTokens": 256, "stopSequences": ["END"],
            "candidateCount": 2, "seed": 42, "presencePenalty": 0.5, "frequencyPenalty": -0.25
        }
    });
    assert_eq!(request(&body).unwrap(), expected);
}

#[test]
fn minimal_request_omits_optional_sections() {
    let expected = json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]});
    assert_eq!(request(&user_says("Hi", json!({}))).unwrap(), expected);
    let extra = json!({"max_tokens": 10, "max_completion_tokens": 20, "stop": ["a", "b"]});
    let out = request(&user_says("Hi", extra)).unwrap();
    let expected = json!({"maxOutputTokens": 20, "stopSequences": ["a", "b"]});
    assert_eq!(out["generationConfig"], expected);
}

#[test]
fn invalid_requests_name_the_parameter() {
    let cases = json!([
        ["messages", {}], ["messages", {"messages": []}],
        ["messages", {"messages": "hi"}], ["messages", [1]],
        ["messages", {"messages": [{"role": "narrator", "content": "x"}]}],
        ["messages", {"messages": [{"role": "system", "content": "only a system prompt"}]}],
        ["messages", {"messages": [{"role": "user", "content": 5}]}],
        ["messages", {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}]
    ]);
    for case in cases.as_array().unwrap() {
        assert_eq!(rejected(&case[1]), case[0], "{case}");
    }
    let extras = json!([
        ["temperature", {"temperature": "hot"}], ["max_tokens", {"max_tokens": 1.5}],
        ["stop", {"stop": [1]}], ["tools", {"tools": [{"type": "web_search"}]}],
        ["response_format", {"response_format": {"type": "xml"}}]
    ]);
    for case in extras.as_array().unwrap() {
        assert_eq!(
            rejected(&user_says("x", case[1].clone())),
            case[0],
            "{case}"
        );
    }
}

#[test]
fn images_become_inline_or_file_data() {
    let url = |u: &str| json!({"type": "image_url", "image_url": {"url": u}});
    let body = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare these"},
        url("data:image/png;base64,iVBORw0KGgo="),
        url("https://example.com/cat.PNG?size=large#top"),
        url("https://example.com/photos/dog.webp"),
        url("http://example.com/image"),
        {"type": "image_url", "image_url": "https://example.com/a.gif"}
    ]}]});
    let expected = json!([
        {"text": "Compare these"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"fileUri": "https://example.com/cat.PNG?size=large#top",
                      "mimeType": "image/png"}},
        {"fileData": {"fileUri": "https://example.com/photos/dog.webp", "mimeType": "image/webp"}},
        {"fileData": {"fileUri": "http://example.com/image", "mimeType": "image/jpeg"}},
        {"fileData": {"fileUri": "https://example.com/a.gif", "mimeType": "image/gif"}}
    ]);
    assert_eq!(request(&body).unwrap()["contents"][0]["parts"], expected);
    for bad_url in [
        "ftp://x.org/a.png",
        "data:image/png,raw",
        "data:;base64,AAAA",
        "",
    ] {
        let body = json!({"messages": [{"role": "user", "content": [url(bad_url)]}]});
        assert_eq!(rejected(&body), "messages");
    }
}

#[test]
fn tool_call_round_trip_finds_names_by_id() {
    let out = request(&tool_round_trip()).unwrap();
    let contents = json!([
        {"role": "user", "parts": [{"text": "Weather in Paris and the time in Tokyo?"}]},
        {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {"tz": "Asia/Tokyo"}}}
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather",
                                  "response": {"temp_c": 18, "sky": "cloudy"}}},
            {"functionResponse": {"name": "get_time", "response": {"content": "09:30"}}}
        ]},
        {"role": "model", "parts": [{"text": "18°C and cloudy in Paris; 09:30 in Tokyo."}]}
    ]);
    assert_eq!(out["contents"], contents);
    let tools = json!([{"functionDeclarations": [
        {"name": "get_weather", "description": "Current weather",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"]}},
        {"name": "get_time"}
    ]}]);
    assert_eq!(out["tools"], tools);
    let tool_config = json!({"functionCallingConfig": {"mode": "AUTO"}});
    assert_eq!(out["toolConfig"], tool_config);
}

#[test]
fn tool_round_trip_rejects_unknown_ids_and_bad_arguments() {
    let mut body = tool_round_trip();
    body["messages"][3]["tool_call_id"] = json!("call_unknown");
    assert_eq!(rejected(&body), "messages");
    for args in [json!("{not json"), json!("[1,2]"), json!(7)] {
        let mut body = tool_round_trip();
        body["messages"][1]["tool_calls"][0]["function"]["arguments"] = args;
        assert_eq!(rejected(&body), "messages");
    }
    // A tool result before any assistant call cannot be named.
    let body = json!({"messages": [{"role": "tool", "tool_call_id": "call_abc", "content": "x"}]});
    assert_eq!(rejected(&body), "messages");
}

#[test]
fn tool_choice_variants() {
    let config = |choice: Value| {
        let out = request(&user_says("x", json!({ "tool_choice": choice }))).unwrap();
        out["toolConfig"]["functionCallingConfig"].clone()
    };
    assert_eq!(config(json!("auto")), json!({"mode": "AUTO"}));
    assert_eq!(config(json!("none")), json!({"mode": "NONE"}));
    assert_eq!(config(json!("required")), json!({"mode": "ANY"}));
    let named = json!({"type": "function", "function": {"name": "get_weather"}});
    let expected = json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]});
    assert_eq!(config(named), expected);
    for bad in [json!("sometimes"), json!({"type": "function"}), json!(3)] {
        assert_eq!(
            rejected(&user_says("x", json!({ "tool_choice": bad }))),
            "tool_choice"
        );
    }
}

#[test]
fn json_mode_and_json_schema() {
    let with_format = |format: Value| user_says("x", json!({ "response_format": format }));
    let config = |format: Value| {
        request(&with_format(format))
            .unwrap()
            .get("generationConfig")
            .cloned()
    };
    let json_object = json!({"responseMimeType": "application/json"});
    assert_eq!(config(json!({"type": "json_object"})), Some(json_object));
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let format = json!({"type": "json_schema",
        "json_schema": {"name": "person", "strict": true, "schema": schema}});
    let expected = json!({"responseMimeType": "application/json", "responseJsonSchema": schema});
    assert_eq!(config(format), Some(expected));
    assert_eq!(config(json!({"type": "text"})), None);
    let no_schema = json!({"type": "json_schema", "json_schema": {"name": "x"}});
    assert_eq!(rejected(&with_format(no_schema)), "response_format");
}

#[test]
fn response_with_text() {
    let body = json!({
        "candidates": [{
            "content": {"role": "model",
                        "parts": [{"text": "Hello! "}, {"text": "How can I help?"}]},
            "finishReason": "STOP",
            "avgLogprobs": -0.05
        }],
        "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 9, "totalTokenCount": 17,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}]},
        "modelVersion": "gemini-2.0-flash",
        "responseId": "mAitaLmkHPPlz7IPvtfUqQ4"
    });
    let (out, usage) = response(&body, "gemini-2.0-flash", "chatcmpl-1", 1_700_000_000).unwrap();
    let expected = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gemini-2.0-flash",
        "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?"},
            "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 9, "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}}
    });
    assert_eq!(out, expected);
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 8,
            completion_tokens: 9,
            ..Usage::default()
        }
    );
}

#[test]
fn response_with_function_calls() {
    let body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time"}}
            ]},
            "finishReason": "STOP"
        }],
        "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 12, "totalTokenCount": 52}
    });
    let (out, _) = response(&body, "gemini-2.5-flash", "chatcmpl-2", 1).unwrap();
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Checking.");
    let calls = json!([
        {"id": "call_0_0", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_0_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    ]);
    assert_eq!(choice["message"]["tool_calls"], calls);
}

#[test]
fn response_usage_with_thoughts_and_cache_and_finish_reasons() {
    let body = json!({
        "candidates": [
            {"content": {"role": "model", "parts": [
                {"text": "Let me think about primes...", "thought": true},
                {"text": "2, 3, 5"}]}, "finishReason": "MAX_TOKENS", "index": 0},
            {"content": {"role": "model"}, "finishReason": "SAFETY", "index": 1},
            {"content": {"role": "model", "parts": [{"text": "x"}]},
             "finishReason": "OTHER", "index": 2}
        ],
        "usageMetadata": {"promptTokenCount": 2100, "candidatesTokenCount": 30,
            "thoughtsTokenCount": 120, "cachedContentTokenCount": 2048, "totalTokenCount": 2250}
    });
    let (out, usage) = response(&body, "gemini-2.5-pro", "chatcmpl-3", 1).unwrap();
    let expected = Usage {
        prompt_tokens: 2100,
        completion_tokens: 150,
        cached_tokens: 2048,
        reasoning_tokens: 120,
        cache_creation_tokens: 0,
    };
    assert_eq!(usage, expected);
    let expected = json!({"prompt_tokens": 2100, "completion_tokens": 150, "total_tokens": 2250,
        "prompt_tokens_details": {"cached_tokens": 2048},
        "completion_tokens_details": {"reasoning_tokens": 120}});
    assert_eq!(out["usage"], expected);
    let summary = |c: &Value| json!([c["index"], c["message"]["content"], c["finish_reason"]]);
    let summary: Vec<Value> = out["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(summary)
        .collect();
    let expected = json!([
        [0, "2, 3, 5", "length"],
        [1, null, "content_filter"],
        [2, "x", "stop"]
    ]);
    assert_eq!(Value::Array(summary), expected);
}

#[test]
fn blocked_prompt_and_bad_bodies() {
    let body = json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}
    });
    let (out, usage) = response(&body, "gemini-2.5-flash", "chatcmpl-4", 1).unwrap();
    let expected = json!([{"index": 0, "message": {"role": "assistant", "content": null},
        "finish_reason": "content_filter", "logprobs": null}]);
    assert_eq!(out["choices"], expected);
    assert_eq!(usage.prompt_tokens, 12);
    let bad_bodies = json!([
        {"usageMetadata": {"promptTokenCount": 1}},
        {"candidates": "nope"},
        {"candidates": [{"content": {"parts": [{"text": 5}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
        {"candidates": [{"content": {"parts": []}}], "usageMetadata": {"promptTokenCount": -1}},
        "text"
    ]);
    for body in bad_bodies.as_array().unwrap() {
        let err = response(body, "m", "id", 0).unwrap_err();
        assert!(matches!(err, TranslateError::BadUpstream(_)), "{body}");
    }
}

#[test]
fn error_bodies() {
    let message = "API key not valid. Please pass a valid API key.";
    let body = json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}});
    assert_eq!(error_message(&body).as_deref(), Some(message));
    assert_eq!(
        error_message(&json!([body.clone()])).as_deref(),
        Some(message)
    );
    assert_eq!(error_message(&json!({"candidates": []})), None);
    let err = response(&body, "m", "id", 0).unwrap_err();
    assert_eq!(err, TranslateError::BadUpstream(message.into()));
}

/// (delta, finish_reason) of each single-choice chunk.
fn deltas(chunks: &[Value]) -> Vec<Value> {
    let choice = |c: &Value| json!([c["choices"][0]["delta"], c["choices"][0]["finish_reason"]]);
    chunks.iter().map(choice).collect()
}

#[test]
fn text_stream_over_several_chunks() {
    let mut state = StreamState::new("gemini-2.5-flash", "chatcmpl-5", 1_700_000_000);
    let text = |t: &str| {
        json!({"candidates": [{"content": {"parts": [{"text": t}], "role": "model"}}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-flash"})
    };
    let expected = json!({"id": "chatcmpl-5", "object": "chat.completion.chunk",
        "created": 1_700_000_000, "model": "gemini-2.5-flash",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "The quick"},
                     "finish_reason": null}]});
    assert_eq!(state.on_chunk(&text("The quick")).unwrap(), vec![expected]);
    let thinking =
        json!({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}]}}]});
    assert!(state.on_chunk(&thinking).unwrap().is_empty());
    let mut rest = state.on_chunk(&text(" brown fox")).unwrap();
    let last = json!({"candidates": [{"content": {"parts": [{"text": " jumps."}], "role": "model"},
        "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 5, "thoughtsTokenCount": 3,
            "totalTokenCount": 17}});
    rest.extend(state.on_chunk(&last).unwrap());
    let expected = json!([[{"content": " brown fox"}, null], [{"content": " jumps."}, "stop"]]);
    assert_eq!(Value::Array(deltas(&rest)), expected);
    let expected = Usage {
        prompt_tokens: 9,
        completion_tokens: 8,
        cached_tokens: 0,
        reasoning_tokens: 3,
        cache_creation_tokens: 0,
    };
    assert_eq!(state.usage(), expected);
    // A trailing usage-only payload updates usage and emits nothing.
    let usage_only = json!({"usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 6}});
    assert!(state.on_chunk(&usage_only).unwrap().is_empty());
    assert_eq!(state.usage().completion_tokens, 6);
}

#[test]
fn stream_with_function_calls() {
    let mut state = StreamState::new("gemini-2.5-flash", "chatcmpl-6", 7);
    let call =
        |city: &str| json!({"functionCall": {"name": "get_weather", "args": {"city": city}}});
    let chunks = [
        json!({"candidates": [{"content": {"role": "model", "parts": [call("Paris")]}}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [call("Rome")]},
                               "finishReason": "STOP"}]}),
    ];
    let out: Vec<Value> = chunks
        .iter()
        .flat_map(|c| state.on_chunk(c).unwrap())
        .collect();
    let tool = |n: usize, city: &str| {
        let arguments = format!("{{\"city\":\"{city}\"}}");
        json!({"index": n, "id": format!("call_0_{n}"), "type": "function",
            "function": {"name": "get_weather", "arguments": arguments}})
    };
    let expected = json!([
        [{"role": "assistant", "tool_calls": [tool(0, "Paris")]}, null],
        [{"tool_calls": [tool(1, "Rome")]}, "tool_calls"]
    ]);
    assert_eq!(Value::Array(deltas(&out)), expected);
}

#[test]
fn stream_candidates_blocks_and_errors() {
    let mut state = StreamState::new("m", "chatcmpl-7", 0);
    let two = json!({"candidates": [
        {"content": {"parts": [{"text": "A"}]}},
        {"content": {"parts": [{"text": "B"}]}, "index": 1, "finishReason": "MAX_TOKENS"}]});
    let out = state.on_chunk(&two).unwrap();
    let summary: Vec<Value> = out.iter().map(|c| c["choices"][0].clone()).collect();
    let expected = json!([
        {"index": 0, "delta": {"role": "assistant", "content": "A"}, "finish_reason": null},
        {"index": 1, "delta": {"role": "assistant", "content": "B"}, "finish_reason": "length"}
    ]);
    assert_eq!(Value::Array(summary), expected);

    let mut blocked = StreamState::new("m", "chatcmpl-8", 0);
    let feedback = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
    let out = blocked.on_chunk(&feedback).unwrap();
    assert_eq!(
        Value::Array(deltas(&out)),
        json!([[{"role": "assistant"}, "content_filter"]])
    );

    let message = "The model is overloaded. Please try again later.";
    let error = json!({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}});
    assert_eq!(
        state.on_chunk(&error),
        Err(TranslateError::BadUpstream(message.into()))
    );
    assert!(matches!(
        state.on_chunk(&json!(42)),
        Err(TranslateError::BadUpstream(_))
    ));
}
