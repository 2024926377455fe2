//! Streams keep the provider's pace: a chunk goes to the client as soon as it arrives, never
//! held back for the next one; chunks that arrive together go on together.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tollgate::mock::MockConfig;

use crate::both;
use crate::helpers::Backend;
use crate::upstream::spawn_gateway_with;

both!(chunks_are_forwarded_as_they_arrive);

async fn chunks_are_forwarded_as_they_arrive(backend: Backend) {
    let gap = Duration::from_millis(300);
    // Paced by knobs in the body, which the gateway passes on to the project's mock.
    let (addr, _) = tollgate::mock::spawn(MockConfig::default())
        .await
        .expect("mock provider");
    let g = spawn_gateway_with(backend, |c| {
        c.providers
            .get_mut(&tollgate_aggregates::Provider::OpenAi)
            .unwrap()
            .base_url = Some(format!("http://{addr}/v1"));
    })
    .await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let started = Instant::now();
    let res =
        g.t.client
            .post(format!("{}/v1/chat/completions", g.t.base))
            .bearer_auth(&t.token)
            .json(&json!({"model": "gpt-4o-mini", "stream": true,
                          "messages": [{"role": "user", "content": "hi"}],
                          "mock": {"chunks": 3, "chunk_delay_ms": gap.as_millis() as u64}}))
            .send()
            .await
            .expect("request sent");
    assert_eq!(res.status(), StatusCode::OK);
    // (when it arrived, how many events it held) for each piece the client reads.
    let mut pieces = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = String::from_utf8_lossy(&piece.expect("readable")).to_string();
        pieces.push((started.elapsed(), piece.matches("data: ").count()));
    }
    let events: usize = pieces.iter().map(|p| p.1).sum();
    assert!(events >= 4, "three chunks and [DONE] at least: {pieces:?}");
    // The first chunk is not held back for the second, produced a gap later.
    assert!(pieces[0].0 < gap, "{pieces:?}");
    assert_eq!(pieces[0].1, 1, "the first chunk alone: {pieces:?}");
    // The rest come paced by the provider, not all at the end.
    let second = pieces
        .iter()
        .position(|p| p.0 >= gap)
        .expect("later pieces");
    assert!(
        pieces.last().unwrap().0 - pieces[second].0 >= gap - Duration::from_millis(50),
        "{pieces:?}"
    );
}
