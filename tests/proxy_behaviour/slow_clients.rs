//! Slow and greedy clients against a real gateway: half-open connections are closed by the
//! header timeout without keeping a normal request out, a body sent too slowly is cut off,
//! and connections over the cap are refused with a clean 503.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::both;
use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway_with, Gateway};

both!(
    half_open_connections_are_closed_and_do_not_block,
    keep_alive_connections_have_their_own_idle_timeout,
    a_body_sent_too_slowly_is_cut_off,
    connections_over_the_cap_are_refused_cleanly
);

fn addr(g: &Gateway) -> String {
    g.t.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (end of stream or reset); what was read.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// One request on `stream` (kept open): the status line's code, the head and the body.
async fn exchange(stream: &mut TcpStream, request: &str) -> (u16, String, String) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&seen).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                let code = head.split(' ').nth(1).and_then(|c| c.parse().ok());
                return (code.unwrap_or(0), head.to_string(), body.to_string());
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before a whole answer: {text}");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// 1,500 connections that send part of a request head and stop: a normal request is still
/// answered meanwhile, and the server closes every one of them within 30 s.
async fn half_open_connections_are_closed_and_do_not_block(backend: Backend) {
    // Both ends of every connection live in this process.
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let g = spawn_gateway_with(backend, |c| c.server.max_connections = 4_000).await;
    g.answer("openai", openai_answer("hi", 3, 4)).await;
    let tenant = g.tenant("credits", 10.0, &[], None).await;

    let opened = Instant::now();
    let mut idle = Vec::with_capacity(1_500);
    for _ in 0..1_500 {
        let mut s = TcpStream::connect(addr(&g)).await.unwrap();
        s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: appl")
            .await
            .unwrap();
        idle.push(s);
    }

    let r = g.chat(&tenant.token, ask("gpt-4o-mini")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let health = reqwest::get(format!("{}/healthz", g.t.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let closes = idle.into_iter().map(|mut s| async move {
        timeout_at(opened + Duration::from_secs(30), until_closed(&mut s))
            .await
            .is_ok()
    });
    let closed = futures::future::join_all(closes).await;
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(
        open, 0,
        "{open} of 1,500 half-open connections still open after 30 s"
    );
}

/// An idle keep-alive connection waits for its next request up to the idle timeout, not the
/// (shorter) header timeout; a next head that has begun must still arrive within the header
/// timeout; and a connection idle past the idle timeout is closed.
async fn keep_alive_connections_have_their_own_idle_timeout(backend: Backend) {
    let health = "GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n";
    let g = spawn_gateway_with(backend, |c| {
        c.server.header_timeout_ms = 500;
        c.server.idle_timeout_ms = 60_000;
    })
    .await;
    let mut kept = TcpStream::connect(addr(&g)).await.unwrap();
    assert_eq!(exchange(&mut kept, health).await.0, 200);
    // Idle for more than the header timeout: still served.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(exchange(&mut kept, health).await.0, 200);
    // A next head begun and left unfinished is cut by the header timeout (the idle one
    // would wait a minute).
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: ga")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), until_closed(&mut kept)).await;
    assert!(closed.is_ok(), "a half-sent head after idling stayed open");

    let g = spawn_gateway_with(backend, |c| {
        c.server.header_timeout_ms = 60_000;
        c.server.idle_timeout_ms = 1_000;
    })
    .await;
    let mut idle = TcpStream::connect(addr(&g)).await.unwrap();
    assert_eq!(exchange(&mut idle, health).await.0, 200);
    let closed = tokio::time::timeout(Duration::from_secs(10), until_closed(&mut idle)).await;
    assert!(closed.is_ok(), "an idle keep-alive connection stayed open");
}

/// A chat body trickled in one byte at a time is cut off by the body timeout: 408 in
/// OpenAI's shape, then the connection is closed; nothing reaches the provider.
async fn a_body_sent_too_slowly_is_cut_off(backend: Backend) {
    let g = spawn_gateway_with(backend, |c| c.server.body_timeout_ms = 1_000).await;
    g.answer("openai", openai_answer("hi", 3, 4)).await;
    let tenant = g.tenant("credits", 10.0, &[], None).await;
    let body = ask("gpt-4o-mini").to_string();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        tenant.token,
        body.len()
    );
    let stream = TcpStream::connect(addr(&g)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    // One byte every 200 ms: the whole body would take far longer than the timeout.
    let trickle = tokio::spawn(async move {
        for b in body.bytes() {
            if write.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut seen = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut seen)).await;
    trickle.abort();
    assert!(done.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let json: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(json["error"]["code"], "request_timeout", "{json}");
    assert_eq!(json["error"]["type"], "invalid_request_error", "{json}");
    assert!(g.received("/openai/v1/chat/completions").await.is_empty());
}

/// With a cap of 3, connections kept open take every place; the next client gets 503 in
/// OpenAI's shape with `Connection: close`, and once places free up it is served again.
async fn connections_over_the_cap_are_refused_cleanly(backend: Backend) {
    let g = spawn_gateway_with(backend, |c| {
        c.server.max_connections = 3;
        // Idle keep-alive connections stay for the whole test.
        c.server.header_timeout_ms = 60_000;
    })
    .await;
    let health = "GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n";
    // The harness's own client may hold a place already: fill the rest until refused.
    let mut held = Vec::new();
    let refused = loop {
        assert!(
            held.len() <= 3,
            "more than 3 connections were served at once"
        );
        let mut s = TcpStream::connect(addr(&g)).await.unwrap();
        let (code, head, body) = exchange(&mut s, health).await;
        match code {
            200 => held.push(s),
            503 => break (s, head, body),
            other => panic!("unexpected {other}: {head}"),
        }
    };
    let (mut s, head, body) = refused;
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("connection: close"), "{head}");
    assert!(lower.contains("retry-after: 1"), "{head}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"]["code"], "too_many_connections", "{json}");
    assert_eq!(json["error"]["type"], "server_error", "{json}");
    assert!(json["error"]["message"].is_string(), "{json}");
    // The server closes the refused connection.
    let closed = tokio::time::timeout(Duration::from_secs(10), until_closed(&mut s)).await;
    assert!(closed.is_ok(), "the refused connection stayed open");

    // A real client sees the same clean refusal.
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", g.t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["error"]["code"], "too_many_connections", "{json}");

    // Places given back are taken again.
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", g.t.base))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "no place was given back");
}
