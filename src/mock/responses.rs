//! The mock's OpenAI Responses API (`/v1/responses`): a text or a function call, plain or as
//! the typed event stream.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::{json_response, sse, tools, Mock, TEXT};

fn response(output: Value, status: &str, usage: Value) -> Value {
    json!({"id": "resp_mock", "object": "response", "created_at": 1, "status": status,
           "model": "mock", "output": output, "usage": usage})
}

pub async fn responses(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let plan = m.plan(&headers, &body);
    let (p, c) = (m.config.prompt_tokens, m.config.completion_tokens);
    let usage = json!({"input_tokens": p, "input_tokens_details": {"cached_tokens": 0},
                       "output_tokens": c, "output_tokens_details": {"reasoning_tokens": 0},
                       "total_tokens": p + c});
    let call = tools::to_call(&body).map(|name| {
        json!({"type": "function_call", "id": "fc_mock", "call_id": "call_mock", "name": name,
               "arguments": tools::ARGUMENTS, "status": "completed"})
    });
    let text = |t: &str| {
        json!({"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": t, "annotations": []}]})
    };
    let done = call.clone().unwrap_or_else(|| text(TEXT));
    if !plan.stream {
        if !plan.first_byte_delay.is_zero() {
            tokio::time::sleep(plan.first_byte_delay).await;
        }
        return json_response(response(json!([done]), "completed", usage).to_string());
    }
    let mut events = Vec::new();
    let mut emit = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(events.len());
        events.push(format!("event: {kind}\ndata: {data}\n\n"));
    };
    emit(
        "response.created",
        json!({"response": response(json!([]), "in_progress", Value::Null)}),
    );
    emit(
        "response.in_progress",
        json!({"response": response(json!([]), "in_progress", Value::Null)}),
    );
    match &call {
        Some(call) => {
            let mut added = call.clone();
            added["arguments"] = json!("");
            added["status"] = json!("in_progress");
            emit(
                "response.output_item.added",
                json!({"output_index": 0, "item": added}),
            );
            let args = json!({"item_id": "fc_mock", "output_index": 0, "delta": tools::ARGUMENTS});
            emit("response.function_call_arguments.delta", args);
            let args =
                json!({"item_id": "fc_mock", "output_index": 0, "arguments": tools::ARGUMENTS});
            emit("response.function_call_arguments.done", args);
        }
        None => {
            let mut added = text("");
            added["content"] = json!([]);
            added["status"] = json!("in_progress");
            emit(
                "response.output_item.added",
                json!({"output_index": 0, "item": added}),
            );
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            emit(
                "response.content_part.added",
                json!({"item_id": "msg_mock", "output_index": 0, "content_index": 0, "part": part}),
            );
            let mut all = String::new();
            for i in 0..plan.chunks {
                let word = format!("word{i} ");
                all.push_str(&word);
                let d = json!({"item_id": "msg_mock", "output_index": 0, "content_index": 0, "delta": word, "logprobs": []});
                emit("response.output_text.delta", d);
            }
            let d = json!({"item_id": "msg_mock", "output_index": 0, "content_index": 0, "text": all, "logprobs": []});
            emit("response.output_text.done", d);
            let part = json!({"type": "output_text", "text": all, "annotations": []});
            emit(
                "response.content_part.done",
                json!({"item_id": "msg_mock", "output_index": 0, "content_index": 0, "part": part}),
            );
        }
    }
    let item = call.unwrap_or_else(|| {
        text(
            &(0..plan.chunks)
                .map(|i| format!("word{i} "))
                .collect::<String>(),
        )
    });
    emit(
        "response.output_item.done",
        json!({"output_index": 0, "item": item.clone()}),
    );
    emit(
        "response.completed",
        json!({"response": response(json!([item]), "completed", usage)}),
    );
    sse(plan, events)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::mock::{spawn, MockConfig};

    async fn post(base: &str, path: &str, body: Value) -> String {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.text().await.unwrap()
    }

    #[tokio::test]
    async fn the_mock_speaks_responses_and_calls_tools() {
        let (addr, _) = spawn(MockConfig::default()).await.unwrap();
        let base = format!("http://{addr}");
        let plain: Value =
            serde_json::from_str(&post(&base, "/v1/responses", json!({"input": "hi"})).await)
                .unwrap();
        assert_eq!(plain["output"][0]["content"][0]["text"], super::TEXT);
        assert_eq!(plain["usage"]["total_tokens"], 20);

        let tools = json!([{"type": "function", "name": "get_weather"}]);
        let call: Value = serde_json::from_str(
            &post(
                &base,
                "/v1/responses",
                json!({"input": "hi", "tools": tools}),
            )
            .await,
        )
        .unwrap();
        assert_eq!(call["output"][0]["type"], "function_call");
        assert_eq!(call["output"][0]["name"], "get_weather");

        let streamed = post(
            &base,
            "/v1/responses",
            json!({"input": "hi", "stream": true, "mock": {"chunks": 2}}),
        )
        .await;
        let kinds: Vec<&str> = streamed
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(kinds.first(), Some(&"response.created"));
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == "response.output_text.delta")
                .count(),
            2
        );
        assert_eq!(kinds.last(), Some(&"response.completed"));

        let chat_tools = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let messages = json!([{"role": "user", "content": "hi"}]);
        let chat = post(
            &base,
            "/v1/chat/completions",
            json!({"messages": messages, "tools": chat_tools, "stream": true}),
        )
        .await;
        assert!(chat.contains(r#""finish_reason":"tool_calls""#), "{chat}");
        let answered = json!([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_mock", "content": "sunny"}]);
        let chat: Value = serde_json::from_str(
            &post(
                &base,
                "/v1/chat/completions",
                json!({"messages": answered, "tools": chat_tools}),
            )
            .await,
        )
        .unwrap();
        assert_eq!(chat["choices"][0]["message"]["content"], super::TEXT);
        let messages_call = post(
            &base,
            "/v1/messages",
            json!({"messages": messages, "tools": [{"name": "get_weather"}]}),
        )
        .await;
        assert!(
            messages_call.contains(r#""stop_reason":"tool_use""#),
            "{messages_call}"
        );
    }
}
