//! The response cache end to end: hits and misses, what the key ignores, isolation between
//! projects, expiry, streamed replays of cached answers, and what is never cached.

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::Backend;
use crate::upstream::{openai_answer, openai_stream, spawn_gateway, Gateway, Tenant};
use crate::{answer_sse, both, header, raw_chat, set_caching, sse_content, sse_data, OPENAI};

both!(
    identical_request_is_a_hit,
    what_changes_the_answer_misses,
    delivery_and_caller_do_not_matter,
    projects_never_share_entries,
    caching_off_never_hits,
    entries_expire,
    cached_answer_replays_as_a_stream,
    streamed_miss_is_cached,
    errors_are_never_cached,
    a_body_without_a_tree_is_refused_not_keyed
);

fn question(content: &str, temperature: f64) -> Value {
    json!({"model": "gpt-4o-mini", "temperature": temperature,
           "messages": [{"role": "user", "content": content}]})
}

/// A gateway answering "hi there" and a credits tenant with caching on for `seconds`.
async fn cached_tenant(backend: Backend, seconds: u64) -> (Gateway, Tenant) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi there", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &t.project, true, seconds).await;
    (g, t)
}

async fn upstream_calls(g: &Gateway) -> usize {
    g.received(OPENAI).await.len()
}

async fn identical_request_is_a_hit(backend: Backend) {
    let (g, t) = cached_tenant(backend, 300).await;
    let first = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(header(&first, "x-tollgate-cache"), "MISS");
    assert_ne!(header(&first, "x-tollgate-cost-usd"), "0.000000000");

    let second = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(header(&second, "x-tollgate-cache"), "HIT");
    assert_eq!(header(&second, "x-tollgate-cost-usd"), "0.000000000");
    assert_eq!(header(&second, "x-tollgate-provider"), "openai");
    assert_eq!(second.body, first.body);
    assert_eq!(second.body["choices"][0]["message"]["content"], "hi there");
    assert_eq!(
        upstream_calls(&g).await,
        1,
        "the hit never reached upstream"
    );

    let logs = g.usage_logs(&t.project, 2).await;
    let (hit, miss) = (&logs[0], &logs[1]);
    assert_eq!(
        (miss["cached"].as_bool(), hit["cached"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(hit["status"], 200);
    assert_eq!(hit["cost_usd"].as_f64(), Some(0.0), "{hit}");
    assert_eq!(hit["fee_usd"].as_f64(), Some(0.0), "{hit}");
    assert_eq!(hit["paid_with"], "none");
    assert_eq!(hit["prompt_tokens"], 10, "tokens of the cached answer");
    assert_eq!(hit["completion_tokens"], 5);
    assert!(miss["cost_usd"].as_f64().unwrap() > 0.0, "{miss}");
}

async fn what_changes_the_answer_misses(backend: Backend) {
    let (g, t) = cached_tenant(backend, 300).await;
    let base = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&base, "x-tollgate-cache"), "MISS", "{}", base.text);
    for (what, body) in [
        ("temperature", question("Say hi", 0.7)),
        ("message", question("Say hello", 0.2)),
        (
            "role",
            json!({"model": "gpt-4o-mini", "temperature": 0.2,
                   "messages": [{"role": "system", "content": "Say hi"}]}),
        ),
        (
            "max_tokens",
            json!({"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 9,
                   "messages": [{"role": "user", "content": "Say hi"}]}),
        ),
    ] {
        let r = g.chat(&t.token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
        assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "a different {what}");
    }
    assert_eq!(upstream_calls(&g).await, 5);
    // Each variant is now cached on its own.
    let r = g.chat(&t.token, question("Say hello", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(upstream_calls(&g).await, 5);
}

async fn delivery_and_caller_do_not_matter(backend: Backend) {
    let (g, t) = cached_tenant(backend, 300).await;
    let first = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&first, "x-tollgate-cache"), "MISS", "{}", first.text);
    for (what, body) in [
        (
            "user",
            json!({"model": "gpt-4o-mini", "temperature": 0.2, "user": "someone-else",
                   "messages": [{"role": "user", "content": "Say hi"}]}),
        ),
        (
            "stream: false",
            json!({"stream": false, "model": "gpt-4o-mini", "temperature": 0.2,
                   "messages": [{"role": "user", "content": "Say hi"}]}),
        ),
        (
            "field order",
            json!({"messages": [{"content": "Say hi", "role": "user"}],
                   "temperature": 0.2, "model": "gpt-4o-mini"}),
        ),
    ] {
        let r = g.chat(&t.token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
        assert_eq!(
            header(&r, "x-tollgate-cache"),
            "HIT",
            "{what} must not matter"
        );
        assert_eq!(r.body, first.body);
    }
    // A streamed request with its own user and stream options is the same question too.
    let mut streamed = question("Say hi", 0.2);
    streamed["stream"] = json!(true);
    streamed["user"] = json!("u-42");
    streamed["stream_options"] = json!({"include_usage": true});
    let r = g.chat(&t.token, streamed).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT", "{}", r.text);
    assert_eq!(upstream_calls(&g).await, 1);
}

async fn projects_never_share_entries(backend: Backend) {
    let (g, a) = cached_tenant(backend, 300).await;
    let b = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &b.project, true, 300).await;

    let r = g.chat(&a.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);
    let r = g.chat(&a.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");

    let r = g.chat(&b.token, question("Say hi", 0.2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        header(&r, "x-tollgate-cache"),
        "MISS",
        "another project's entry"
    );
    assert_eq!(upstream_calls(&g).await, 2);
    let r = g.chat(&b.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");

    // A second key of the same project shares the project's entries.
    let key =
        g.t.post(
            &format!("/api/projects/{}/keys", a.project),
            crate::helpers::ADMIN,
            json!({}),
        )
        .await;
    let token = key.body["token"].as_str().unwrap().to_string();
    let r = g.chat(&token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT", "{}", r.text);
    assert_eq!(upstream_calls(&g).await, 2);
}

async fn caching_off_never_hits(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi there", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    for _ in 0..3 {
        let r = g.chat(&t.token, question("Say hi", 0.2)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS");
    }
    assert_eq!(upstream_calls(&g).await, 3);

    // Turned on: cached; turned off again: not served from the cache any more.
    set_caching(&g, &t.project, true, 300).await;
    g.chat(&t.token, question("Say hi", 0.2)).await;
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    set_caching(&g, &t.project, false, 300).await;
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS");
    assert_eq!(upstream_calls(&g).await, 5);
    let logs = g.usage_logs(&t.project, 6).await;
    assert_eq!(logs.iter().filter(|l| l["cached"] == true).count(), 1);
}

async fn entries_expire(backend: Backend) {
    let (g, t) = cached_tenant(backend, 10).await;
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "expired after 10 s");
    assert_eq!(upstream_calls(&g).await, 2);
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT", "cached again");
}

async fn cached_answer_replays_as_a_stream(backend: Backend) {
    let (g, t) = cached_tenant(backend, 300).await;
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);

    let mut streamed = question("Say hi", 0.2);
    streamed["stream"] = json!(true);
    let r = g.chat(&t.token, streamed.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    let data = sse_data(&r.text);
    assert_eq!(
        data.last().map(String::as_str),
        Some("[DONE]"),
        "{}",
        r.text
    );
    assert_eq!(sse_content(&r.text), "hi there");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunks are JSON"))
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "usage not asked for"
    );

    // Asked for: a usage chunk with the cached answer's tokens.
    streamed["stream_options"] = json!({"include_usage": true});
    let r = g.chat(&t.token, streamed).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    let usage: Vec<Value> = sse_data(&r.text)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|c| c.get("usage").is_some())
        .collect();
    assert_eq!(usage.len(), 1, "{}", r.text);
    assert_eq!(usage[0]["usage"]["prompt_tokens"], 10);
    assert_eq!(upstream_calls(&g).await, 1);

    let logs = g.usage_logs(&t.project, 3).await;
    assert_eq!(logs[1]["cached"], true);
    assert_eq!(logs[1]["streamed"], true);
    assert_eq!(logs[1]["cost_usd"].as_f64(), Some(0.0));
}

async fn streamed_miss_is_cached(backend: Backend) {
    let g = spawn_gateway(backend).await;
    answer_sse(&g, openai_stream(&["Hel", "lo ", "there"], 7, 3)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &t.project, true, 300).await;

    let mut streamed = question("Say hi", 0.2);
    streamed["stream"] = json!(true);
    let r = g.chat(&t.token, streamed.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS");
    assert_eq!(sse_content(&r.text), "Hello there");
    assert_eq!(sse_data(&r.text).last().map(String::as_str), Some("[DONE]"));
    // The record is written after the answer is cached.
    let logs = g.usage_logs(&t.project, 1).await;
    assert_eq!(
        (logs[0]["streamed"].as_bool(), logs[0]["cached"].as_bool()),
        (Some(true), Some(false))
    );

    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(r.body["object"], "chat.completion");
    assert_eq!(r.body["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(r.body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(r.body["choices"][0]["finish_reason"], "stop");
    assert_eq!(r.body["usage"]["prompt_tokens"], 7);
    assert_eq!(r.body["usage"]["completion_tokens"], 3);

    let r = g.chat(&t.token, streamed).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(sse_content(&r.text), "Hello there");
    assert_eq!(upstream_calls(&g).await, 1);
}

async fn errors_are_never_cached(backend: Backend) {
    let g = spawn_gateway(backend).await;
    Mock::given(method("POST"))
        .and(path(OPENAI))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "boom"}})),
        )
        // The first attempt and its retry.
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&g.mock)
        .await;
    g.answer("openai", openai_answer("hi there", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &t.project, true, 300).await;

    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert!(r.headers.get("x-tollgate-cache").is_none());
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        header(&r, "x-tollgate-cache"),
        "MISS",
        "the error was not cached"
    );
    let r = g.chat(&t.token, question("Say hi", 0.2)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(r.body["choices"][0]["message"]["content"], "hi there");
    assert_eq!(upstream_calls(&g).await, 3);

    // A stream that fails midway is not cached either.
    let g = spawn_gateway(backend).await;
    answer_sse(&g, crate::disconnect::broken_stream()).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &t.project, true, 300).await;
    let mut streamed = question("Say hi", 0.2);
    streamed["stream"] = json!(true);
    let r = g.chat(&t.token, streamed.clone()).await;
    assert!(r.text.contains("overloaded"), "{}", r.text);
    g.usage_logs(&t.project, 1).await;
    let r = g.chat(&t.token, streamed).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);
    assert_eq!(upstream_calls(&g).await, 2);
}

/// JSON text that no JSON tree holds (a number beyond a float's range) in a member the hot path
/// does not read is refused as a client error, as the tree refuses it: never forwarded, and
/// never two different requests sharing a cache key.
async fn a_body_without_a_tree_is_refused_not_keyed(backend: Backend) {
    let (g, t) = cached_tenant(backend, 300).await;
    let auth = format!("Bearer {}", t.token);
    for content in ["first", "second"] {
        let body = format!(
            r#"{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "{content}"}}], "x": 1e400}}"#
        );
        let r = raw_chat(
            &g,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "invalid_json", "{}", r.text);
        assert!(r.headers.get("x-tollgate-cache").is_none());
    }
    assert_eq!(upstream_calls(&g).await, 0);
}
