//! Request ids on the proxy's chat route, which the server serves without the router: the
//! client's `x-request-id` is echoed and recorded, a missing one is made, and the route's
//! other methods still get the router's answer.

use reqwest::StatusCode;

use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway};
use crate::{both, header, raw_chat};

const JSON: (&str, &str) = ("content-type", "application/json");

both!(chat_requests_carry_their_ids, unfit_ids_are_replaced);

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

/// An id longer than 128 characters, or with other than visible ASCII, is replaced by a
/// generated one, which is the one echoed and recorded; a 128-character one is kept.
async fn unfit_ids_are_replaced(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let t = g.tenant("credits", 1.0, &[], None).await;
    let auth = format!("Bearer {}", t.token);
    let body = ask("gpt-4o-mini").to_string();
    let kept: String = (0..128)
        .map(|i| char::from(0x21 + (i % 94) as u8))
        .collect();
    let long = "r".repeat(200);
    let send = |id: reqwest::header::HeaderValue| {
        let req =
            g.t.client
                .post(format!("{}/v1/chat/completions", g.t.base))
                .header("authorization", auth.as_str())
                .header("content-type", "application/json")
                .header("x-request-id", id)
                .body(body.clone());
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    use reqwest::header::HeaderValue;
    let echoed_kept = send(HeaderValue::from_str(&kept).unwrap()).await;
    assert_eq!(echoed_kept, kept);
    let echoed_long = send(HeaderValue::from_str(&long).unwrap()).await;
    let echoed_text = send(HeaderValue::from_bytes("caf\u{e9}-7".as_bytes()).unwrap()).await;
    let echoed_space = send(HeaderValue::from_static("two words")).await;
    for made in [&echoed_long, &echoed_text, &echoed_space] {
        assert_eq!(made.len(), 36, "a generated UUID: {made}");
        assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
    }

    let logs = g.usage_logs(&t.project, 4).await;
    let mut recorded: Vec<&str> = logs
        .iter()
        .map(|l| l["request_id"].as_str().unwrap_or_default())
        .collect();
    recorded.sort_unstable();
    let mut expected = vec![
        kept.as_str(),
        echoed_long.as_str(),
        echoed_text.as_str(),
        echoed_space.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(recorded, expected);
}
