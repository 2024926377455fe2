//! The gateway served on several event loops (one runtime per thread, one shared port).

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{test_config, Backend, ADMIN};
use crate::upstream::{ask, openai_answer, openai_stream, spawn_gateway_with, usage_records};

both!(two_event_loops_answer_and_drain_every_record);

/// Many connections spread over two loops: plain, streamed and management requests are
/// answered, and when the server stops every usage record (streams' included, which are
/// written by a task the stream leaves behind) is in the log before `serve_threads` returns.
async fn two_event_loops_answer_and_drain_every_record(backend: Backend) {
    let g = spawn_gateway_with(backend, |_| {}).await;
    g.answer_stream("openai", openai_stream(&["a", "b"], 5, 2))
        .await;
    g.answer("openai", openai_answer("hi", 3, 4)).await;
    let tenant = g.tenant("credits", 10.0, &[], None).await;

    let mut config = test_config(&g.t.database_url);
    config.providers = g.t.app.config.providers.clone();
    // Only the drain writes: nothing is flushed by time or size during the test.
    config.usage.flush_ms = 600_000;
    config.usage.batch_size = 100_000;
    let app = tollgate::app::App::start(config).await.unwrap();
    let listener = tollgate::server::bind_shared("127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tollgate::server::serve_threads(
        app.clone(),
        listener,
        2,
        async {
            let _ = stopped.await;
        },
    ));

    // Fresh clients: separate connections, which the kernel spreads over the loops.
    let calls = (0..16).map(|i| {
        let (base, token) = (base.clone(), tenant.token.clone());
        async move {
            let mut body = ask("gpt-4o-mini");
            if i % 2 == 1 {
                body["stream"] = json!(true);
            }
            let r = reqwest::Client::new()
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            (status, i % 2 == 1, text)
        }
    });
    for (status, streamed, text) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{text}");
        if streamed {
            assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        } else {
            assert!(text.contains("\"hi\""), "{text}");
        }
    }
    let org = reqwest::Client::new()
        .get(format!("{base}/api/organizations/{}", tenant.org))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(org.status(), StatusCode::OK);
    // Writes through the loops too: commands, projection, the proxy state following them.
    let writes = (0..4).map(|i| {
        let base = base.clone();
        let org = tenant.org.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/projects"))
                .bearer_auth(ADMIN)
                .json(&json!({"organization_id": org, "name": format!("loop {i}"), "mode": "credits"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    for status in futures::future::join_all(writes).await {
        assert_eq!(status, StatusCode::CREATED);
    }

    let before = usage_records(&app).await;
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert_eq!(usage_records(&app).await - before, 16);
}

/// A port already taken by a listener that does not share it is a clear error at start.
#[tokio::test]
async fn a_taken_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = tollgate::server::bind_shared(taken.local_addr().unwrap());
    assert!(err.is_err());
}

/// A port another gateway already serves (through sockets that allow sharing) is refused
/// too: the first socket is bound alone before the shared ones.
#[tokio::test]
async fn a_port_another_gateway_serves_is_an_error() {
    let first = tollgate::server::bind_shared("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let err = tollgate::server::bind_shared(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains("already in use"), "{err}");
    drop(first);
    assert!(tollgate::server::bind_shared(addr).is_ok());
}
