//! OpenAI-compatible answers pass through as bytes: the client gets exactly what the provider
//! sent, and the provider gets exactly what the client sent when nothing needs rewriting.

use reqwest::StatusCode;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::Backend;
use crate::upstream::spawn_gateway;
use crate::{answer_sse, both, raw_chat, sse_data, OPENAI};

both!(
    bytes_pass_through_both_ways,
    rewrites_only_what_it_must,
    stream_chunks_pass_through,
    stream_requests_keep_the_clients_bytes
);

/// Odd spacing, key order and a field the gateway does not know: all must survive.
const ANSWER: &str = "{ \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\": 3, \"total_tokens\": 10},\n  \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"caf\\u00e9\"}, \"finish_reason\": \"stop\"}],\n  \"id\": \"chatcmpl-x\", \"object\": \"chat.completion\", \"created\": 1, \"model\": \"gpt-4o-mini\", \"vendor\": {\"z\": 1, \"a\": 2} }";

async fn mount(g: &crate::upstream::Gateway) {
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ANSWER, "application/json"))
        .mount(&g.mock)
        .await;
}

async fn bytes_pass_through_both_ways(backend: Backend) {
    let g = spawn_gateway(backend).await;
    mount(&g).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let sent = "{\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}],  \"model\":\"gpt-4o-mini\", \"x_extra\": {\"b\": [1, 2.50]}}";
    let r = raw_chat(
        &g,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        sent,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, ANSWER, "the answer's bytes are the provider's");
    assert_eq!(r.headers["content-type"], "application/json");
    let received = g.received(OPENAI).await;
    assert_eq!(received.len(), 1);
    assert_eq!(String::from_utf8_lossy(&received[0].body), sent);
    // Usage was still read from the bytes.
    let logs = g.usage_logs(&t.project, 1).await;
    assert_eq!(logs[0]["prompt_tokens"], 7);
    assert_eq!(logs[0]["completion_tokens"], 3);
}

async fn rewrites_only_what_it_must(backend: Backend) {
    let g = spawn_gateway(backend).await;
    mount(&g).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // A provider-qualified name and stream options: rewritten before they go upstream.
    let r = raw_chat(
        &g,
        &headers,
        "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false,\"stream_options\":{\"include_usage\":true},\"x_extra\":1}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, ANSWER);
    let received = g.received(OPENAI).await;
    let body: serde_json::Value = received[0].body_json().expect("JSON");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], false);
    assert!(body.get("stream_options").is_none());
    assert_eq!(body["x_extra"], 1, "unknown fields still pass");
}

async fn stream_chunks_pass_through(backend: Backend) {
    let g = spawn_gateway(backend).await;
    // Keys out of order, odd spacing, an unknown field, CRLF line endings and a comment.
    let first = "{\"choices\": [{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}], \"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"vendor\":{\"z\":1}}";
    let last = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}";
    let usage = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}";
    answer_sse(
        &g,
        format!(": keep-alive\r\n\r\ndata: {first}\r\n\r\ndata: {last}\n\ndata: {usage}\n\ndata: [DONE]\n\n"),
    )
    .await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let r = raw_chat(
        &g,
        &[("authorization", &auth), ("content-type", "application/json")],
        "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(sse_data(&r.text), [first, last, usage, "[DONE]"]);
    let logs = g.usage_logs(&t.project, 1).await;
    assert_eq!(logs[0]["prompt_tokens"], 5);
    assert_eq!(logs[0]["estimated"], false);
}

async fn stream_requests_keep_the_clients_bytes(backend: Backend) {
    let g = spawn_gateway(backend).await;
    let chunk = "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}";
    answer_sse(&g, format!("data: {chunk}\n\ndata: [DONE]\n\n")).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    // No stream options: the client's bytes, with the usage option added at the end.
    let sent = "{ \"stream\": true, \"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}], \"x_extra\": [1, 2.50] }\n";
    let r = raw_chat(&g, &headers, sent).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(sse_data(&r.text), [chunk, "[DONE]"]);
    // Stream options the client chose are rewritten: the gateway needs the usage chunk.
    let r = raw_chat(
        &g,
        &headers,
        "{\"model\":\"openai/gpt-4o-mini\",\"stream\":true,\"stream_options\":{\"include_usage\":false},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let received = g.received(OPENAI).await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        String::from_utf8_lossy(&received[0].body),
        "{ \"stream\": true, \"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}], \"x_extra\": [1, 2.50] ,\"stream_options\":{\"include_usage\":true}}"
    );
    let rewritten: serde_json::Value = received[1].body_json().expect("JSON");
    assert_eq!(rewritten["model"], "gpt-4o-mini");
    assert_eq!(rewritten["stream_options"]["include_usage"], true);
}
