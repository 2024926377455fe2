//! Two gateways on one Postgres database, and draining usage on shutdown.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_with, test_config, Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway_with, usage_records};

/// A change made through replica A reaches replica B's proxy within a second, by
/// notification (B's polling is set to a minute, so polling cannot be what delivers it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_honors_a_change_within_a_second() {
    let a = spawn_gateway_with(Backend::Postgres, |_| {}).await;
    a.answer("openai", openai_answer("hi", 1, 1)).await;
    let tenant = a.tenant("credits", 1.0, &[], None).await;
    let mut config = test_config(&a.t.database_url);
    config.providers = a.t.app.config.providers.clone();
    config.database.projector_poll_ms = 60_000;
    let b = spawn_with(config, None).await;
    let chat = |base: String, token: String| async move {
        reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(token)
            .json(&ask("gpt-4o-mini"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        chat(b.base.clone(), tenant.token.clone()).await,
        StatusCode::OK
    );

    a.t.patch(
        &format!("/api/keys/{}", tenant.key_id),
        ADMIN,
        json!({"status": "disabled"}),
    )
    .await;
    let changed = Instant::now();
    loop {
        if chat(b.base.clone(), tenant.token.clone()).await == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "replica B still accepts the disabled key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Records still queued when the server stops are written before `serve` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_writes_every_usage_record() {
    let g = spawn_gateway_with(Backend::Sqlite, |c| {
        // Nothing is flushed by time or size during the test: only the drain writes.
        c.usage.flush_ms = 600_000;
        c.usage.batch_size = 100_000;
    })
    .await;
    g.answer("openai", openai_answer("hi", 3, 4)).await;
    let tenant = g.tenant("credits", 1.0, &[], None).await;
    let app = tollgate::app::App::start(test_config_like(&g))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tollgate::server::serve(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..25 {
        let r = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&tenant.token)
            .json(&ask("gpt-4o-mini"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let before = usage_records(&app).await;
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert_eq!(
        usage_records(&app).await - before,
        25,
        "every request's record was written on shutdown"
    );
}

fn test_config_like(g: &crate::upstream::Gateway) -> tollgate::config::Config {
    let mut config = test_config(&g.t.database_url);
    config.providers = g.t.app.config.providers.clone();
    config.usage.flush_ms = 600_000;
    config.usage.batch_size = 100_000;
    config
}
