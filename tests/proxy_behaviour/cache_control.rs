//! Per-request cache control: `Cache-Control` (`no-cache`, `no-store`, `max-age`), the TTL
//! override and the namespace, and the `x-tollgate-cache` / `Age` they answer with.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::Backend;
use crate::upstream::{openai_answer, openai_stream, spawn_gateway, Answer, Gateway, Tenant};
use crate::{both, header, raw_chat, set_caching, OPENAI};

both!(
    no_cache_skips_the_lookup_and_stores,
    no_store_neither_looks_nor_keeps,
    max_age_refuses_older_entries,
    ttl_override_stays_within_the_project,
    namespaces_keep_entries_apart,
    caching_off_bypasses,
    streams_follow_the_same_rules
);

async fn tenant(backend: Backend) -> (Gateway, Tenant) {
    let g = spawn_gateway(backend).await;
    // Ages are whole seconds: a real second ending between two requests would add one.
    g.t.app.proxy.state.clock.pin();
    g.answer("openai", openai_answer("hi there", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    set_caching(&g, &t.project, true, 300).await;
    (g, t)
}

fn question(stream: bool) -> String {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}], "stream": stream})
        .to_string()
}

async fn ask(g: &Gateway, t: &Tenant, extra: &[(&str, &str)]) -> Answer {
    let auth = format!("Bearer {}", t.token);
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    raw_chat(g, &headers, question(false)).await
}

async fn upstream_calls(g: &Gateway) -> usize {
    g.received(OPENAI).await.len()
}

async fn no_cache_skips_the_lookup_and_stores(backend: Backend) {
    let (g, t) = tenant(backend).await;
    let r = ask(&g, &t, &[]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);
    let r = ask(&g, &t, &[("cache-control", "no-cache")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS");
    assert_eq!(upstream_calls(&g).await, 2, "no-cache went to the provider");
    let r = ask(&g, &t, &[]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(header(&r, "age"), "0");
}

async fn no_store_neither_looks_nor_keeps(backend: Backend) {
    let (g, t) = tenant(backend).await;
    let r = ask(&g, &t, &[("cache-control", "no-store")]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS", "{}", r.text);
    let r = ask(&g, &t, &[]).await;
    assert_eq!(
        header(&r, "x-tollgate-cache"),
        "MISS",
        "no-store kept nothing"
    );
    let r = ask(&g, &t, &[("cache-control", "no-store")]).await;
    assert_eq!(
        header(&r, "x-tollgate-cache"),
        "BYPASS",
        "no-store does not look either"
    );
    assert_eq!(upstream_calls(&g).await, 3);
    assert_eq!(header(&ask(&g, &t, &[]).await, "x-tollgate-cache"), "HIT");
}

async fn max_age_refuses_older_entries(backend: Backend) {
    let (g, t) = tenant(backend).await;
    ask(&g, &t, &[]).await;
    g.t.app.proxy.state.clock.advance(30);
    let r = ask(&g, &t, &[]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(header(&r, "age"), "30");
    let r = ask(&g, &t, &[("cache-control", "max-age=10")]).await;
    assert_eq!(
        header(&r, "x-tollgate-cache"),
        "MISS",
        "30 s is older than 10 s"
    );
    assert_eq!(upstream_calls(&g).await, 2);
    // The fresh answer replaced the old one.
    g.t.app.proxy.state.clock.advance(4);
    let r = ask(&g, &t, &[("cache-control", "max-age=10")]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT");
    assert_eq!(header(&r, "age"), "4");
    let r = ask(&g, &t, &[("cache-control", "max-age=later")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "cache-control");
}

async fn ttl_override_stays_within_the_project(backend: Backend) {
    let (g, t) = tenant(backend).await;
    for bad in ["5", "301", "ten"] {
        let r = ask(&g, &t, &[("x-tollgate-cache-ttl", bad)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.body["error"]["param"], "x-tollgate-cache-ttl");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains("300"),
            "{}",
            r.text
        );
    }
    let r = ask(&g, &t, &[("x-tollgate-cache-ttl", "60")]).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "MISS", "{}", r.text);
    assert_eq!(header(&ask(&g, &t, &[]).await, "x-tollgate-cache"), "HIT");
    assert_eq!(upstream_calls(&g).await, 1, "refused requests never left");
}

async fn namespaces_keep_entries_apart(backend: Backend) {
    let (g, t) = tenant(backend).await;
    let a = [("x-tollgate-cache-namespace", "tenant-a")];
    let b = [("x-tollgate-cache-namespace", "tenant-b")];
    assert_eq!(header(&ask(&g, &t, &a).await, "x-tollgate-cache"), "MISS");
    assert_eq!(header(&ask(&g, &t, &a).await, "x-tollgate-cache"), "HIT");
    assert_eq!(header(&ask(&g, &t, &b).await, "x-tollgate-cache"), "MISS");
    assert_eq!(header(&ask(&g, &t, &[]).await, "x-tollgate-cache"), "MISS");
    assert_eq!(upstream_calls(&g).await, 3);
    let r = ask(&g, &t, &[("x-tollgate-cache-namespace", "a/b")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "x-tollgate-cache-namespace");
}

async fn caching_off_bypasses(backend: Backend) {
    let (g, t) = tenant(backend).await;
    set_caching(&g, &t.project, false, 300).await;
    for _ in 0..2 {
        let r = ask(&g, &t, &[]).await;
        assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS", "{}", r.text);
    }
    assert_eq!(upstream_calls(&g).await, 2);
}

async fn streams_follow_the_same_rules(backend: Backend) {
    let (g, t) = tenant(backend).await;
    g.answer_stream("openai", openai_stream(&["hi", " there"], 10, 5))
        .await;
    let auth = format!("Bearer {}", t.token);
    let h = |extra: Option<(&'static str, &'static str)>| {
        let mut v = vec![
            ("authorization", auth.clone()),
            ("content-type", "application/json".to_string()),
        ];
        if let Some((k, val)) = extra {
            v.push((k, val.to_string()));
        }
        v
    };
    let send = |headers: Vec<(&'static str, String)>| {
        let g = &g;
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            raw_chat(g, &pairs, question(true)).await
        }
    };
    ask(&g, &t, &[]).await;
    let r = send(h(None)).await;
    assert_eq!(header(&r, "x-tollgate-cache"), "HIT", "{}", r.text);
    assert_eq!(header(&r, "age"), "0");
    let r = send(h(Some(("cache-control", "no-store")))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-tollgate-cache"), "BYPASS");
    assert!(r.text.contains("there"), "{}", r.text);
    assert_eq!(upstream_calls(&g).await, 2);
}
