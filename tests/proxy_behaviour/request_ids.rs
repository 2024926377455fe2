//! Request ids on the proxy's chat route, which the server serves without the router: the
//! client's `x-request-id` is echoed and recorded, a missing one is made, and the route's
//! other methods still get the router's answer.

use reqwest::StatusCode;

use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway};
use crate::{both, header, raw_chat};

const JSON: (&str, &str) = ("content-type", "application/json");

both!(chat_requests_carry_their_ids);

async fn chat_requests_carry_their_ids(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let body = ask("gpt-4o-mini").to_string();

    let given = [
        ("authorization", auth.as_str()),
        JSON,
        ("x-request-id", "client-req-7"),
    ];
    let r = raw_chat(&g, &given, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(header(&r, "x-request-id"), "client-req-7");

    let made: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..2 {
            let r = raw_chat(&g, &[("authorization", auth.as_str()), JSON], body.clone()).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            ids.push(header(&r, "x-request-id").to_string());
        }
        ids
    };
    assert_eq!(made[0].len(), 36, "a UUID-shaped id: {}", made[0]);
    assert_ne!(made[0], made[1]);

    let logs = g.usage_logs(&t.project, 3).await;
    let mut recorded: Vec<&str> = logs
        .iter()
        .map(|l| l["request_id"].as_str().unwrap_or_default())
        .collect();
    recorded.sort_unstable();
    let mut expected = vec!["client-req-7", made[0].as_str(), made[1].as_str()];
    expected.sort_unstable();
    assert_eq!(recorded, expected);

    // Other methods on the route are the router's: 405, with an id as well.
    let r =
        g.t.client
            .get(format!("{}/v1/chat/completions", g.t.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers().contains_key("x-request-id"));
}
