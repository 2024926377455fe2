//! Anthropic's Messages API coming in (`POST /v1/messages`): translated to the chat pipeline,
//! out to an OpenAI or Anthropic upstream, and the answer back in Anthropic's shape.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::common::*;
use crate::helpers::Backend;
use crate::payloads::anthropic::message;
use crate::upstream::{openai_answer, openai_stream, spawn_gateway, Answer, Gateway};

both!(
    to_an_openai_model,
    streamed_from_an_openai_model,
    tools_round_trip_to_an_anthropic_model,
    errors_in_anthropics_shape,
    tokens_are_counted
);

const OPENAI: &str = "/openai/v1/chat/completions";

/// A Messages request with the key in `x-api-key`, as Anthropic's SDK sends it.
async fn messages(g: &Gateway, path: &str, token: &str, body: Value) -> Answer {
    let res =
        g.t.client
            .post(format!("{}{path}", g.t.base))
            .header("x-api-key", token)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

async fn to_an_openai_model(backend: Backend) {
    let g = spawn_gateway(backend).await;
    mount_json(&g, OPENAI, 200, openai_answer("Paris.", 21, 3), false).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let r = messages(
        &g,
        "/v1/messages",
        &tenant.token,
        json!({
            "model": "gpt-4o-mini", "max_tokens": 64, "system": "Be terse.",
            "stop_sequences": ["###"], "temperature": 0.2,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Capital of France?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["type"], "message");
    assert_eq!(r.body["role"], "assistant");
    assert_eq!(
        r.body["content"],
        json!([{"type": "text", "text": "Paris."}])
    );
    assert_eq!(r.body["stop_reason"], "end_turn");
    assert_eq!(r.body["usage"]["input_tokens"], 21);
    assert_eq!(r.body["usage"]["output_tokens"], 3);
    assert!(r.headers.contains_key("x-tollgate-cost-usd"));

    let sent = bodies(&g, OPENAI).await;
    assert_eq!(
        sent[0]["messages"][0],
        json!({"role": "system", "content": "Be terse."})
    );
    let user = &sent[0]["messages"][1]["content"];
    assert_eq!(
        user[0],
        json!({"type": "text", "text": "Capital of France?"})
    );
    assert_eq!(
        user[1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    assert_eq!(sent[0]["stop"], json!(["###"]));
    assert_eq!(sent[0]["max_tokens"], 64);

    let log = only_log(&g, &tenant.project).await;
    assert_eq!(log["endpoint"], "messages");
    assert_eq!(log["prompt_tokens"], 21);
}

async fn streamed_from_an_openai_model(backend: Backend) {
    let g = spawn_gateway(backend).await;
    mount_sse(&g, OPENAI, openai_stream(&["Hel", "lo"], 9, 2)).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let r = messages(
        &g,
        "/v1/messages",
        &tenant.token,
        json!({"model": "gpt-4o-mini", "max_tokens": 16, "stream": true,
               "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let names: Vec<&str> = r
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data: Vec<Value> = r
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = data
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(data[6]["delta"]["stop_reason"], "end_turn");
    assert_eq!(data[6]["usage"]["output_tokens"], 2);
    // The usage the client asked for implicitly reached the provider.
    assert_eq!(
        bodies(&g, OPENAI).await[0]["stream_options"]["include_usage"],
        true
    );
    assert_eq!(only_log(&g, &tenant.project).await["endpoint"], "messages");
}

async fn tools_round_trip_to_an_anthropic_model(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let call = json!([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]);
    mount_json(
        &g,
        "/anthropic/v1/messages",
        200,
        message("msg_1", call, "tool_use", 30, 12),
        false,
    )
    .await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let tools = json!([{"name": "get_weather", "description": "Weather of a city",
                        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let r = messages(
        &g,
        "/v1/messages",
        &tenant.token,
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "tools": tools,
               "tool_choice": {"type": "auto"},
               "messages": [{"role": "user", "content": "Weather in Paris?"}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["stop_reason"], "tool_use");
    assert_eq!(r.body["content"][0]["type"], "tool_use");
    assert_eq!(r.body["content"][0]["id"], "toolu_1");
    assert_eq!(r.body["content"][0]["input"], json!({"city": "Paris"}));

    // The tool's result goes back as Anthropic's SDK sends it.
    let r = messages(
        &g,
        "/v1/messages",
        &tenant.token,
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "tools": tools,
               "messages": [
                   {"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": r.body["content"]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C, sunny"}]}
               ]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = bodies(&g, "/anthropic/v1/messages").await;
    assert_eq!(sent[0]["tools"][0]["name"], "get_weather");
    assert_eq!(sent[1]["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(sent[1]["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(
        sent[1]["messages"][2]["content"][0]["tool_use_id"],
        "toolu_1"
    );
}

async fn errors_in_anthropics_shape(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let ask = json!({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]});
    let r = messages(&g, "/v1/messages", "tg-wrong", ask.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["type"], "error");
    assert_eq!(r.body["error"]["type"], "authentication_error");
    assert!(r.body["error"]["message"].is_string());

    let mut unknown = ask.clone();
    unknown["model"] = json!("no-such-model");
    let r = messages(&g, "/v1/messages", &tenant.token, unknown).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.body["error"]["type"], "not_found_error");

    let mut no_max = ask.clone();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let r = messages(&g, "/v1/messages", &tenant.token, no_max).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));

    let r =
        g.t.client
            .get(format!("{}/v1/messages", g.t.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
}

async fn tokens_are_counted(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let short =
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hi"}]});
    let long = json!({"model": "claude-sonnet-4-5", "system": "You answer questions about the weather in great detail.",
                      "messages": [{"role": "user", "content": "What will the weather be like in Paris tomorrow afternoon?"}]});
    let a = messages(&g, "/v1/messages/count_tokens", &tenant.token, short).await;
    let b = messages(&g, "/v1/messages/count_tokens", &tenant.token, long).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let (a, b) = (
        a.body["input_tokens"].as_u64().unwrap(),
        b.body["input_tokens"].as_u64().unwrap(),
    );
    assert!(a > 0 && b > a + 10, "{a} {b}");
    let r = messages(&g, "/v1/messages/count_tokens", "tg-wrong", json!({})).await;
    assert_eq!(r.body["error"]["type"], "authentication_error");
}
