//! A project's default fallback chains (set by PATCH, shown by GET and `as_of`), used when a
//! request lists no `models`; and retries as the gateway's setting says.

use crate::fallbacks::openai_down_claude_up;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{spawn_gateway_with, Answer, Gateway};
use crate::{both, header, OPENAI};
use reqwest::StatusCode;
use serde_json::json;

both!(a_projects_chain_serves_a_request_without_models);

/// A plain chat request for `gpt-4o-mini`.
async fn ask(g: &Gateway, token: &str) -> Answer {
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    g.chat(token, body).await
}

async fn a_projects_chain_serves_a_request_without_models(backend: Backend) {
    // No retries: the failing model is tried once, then the chain's next.
    let g = spawn_gateway_with(backend, |c| c.proxy.max_retries = 0).await;
    openai_down_claude_up(&g, "from the chain").await;
    let t = g.tenant("credits", 5.0, &[], None).await;
    let project = format!("/api/projects/{}", t.project);

    let bad = json!({"fallbacks": {"gpt-4o-mini": ["gpt-4o-mini"]}});
    let r = g.t.patch(&project, ADMIN, bad).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["error"]["param"], "fallbacks", "{:?}", r.body);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let chain = json!({"gpt-4o-mini": ["claude-sonnet-4-5"]});
    let r =
        g.t.patch(&project, ADMIN, json!({"fallbacks": chain}))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["fallbacks"], chain);
    let then = g.t.get(&format!("{project}?as_of={before}"), ADMIN).await;
    assert_eq!(then.status, StatusCode::OK, "{:?}", then.body);
    assert_eq!(
        then.body["fallbacks"],
        json!({}),
        "as it was before the change"
    );
    let audit =
        g.t.get(
            &format!(
                "/api/audit?aggregate_id={}&event_type=ProjectFallbacksSet",
                t.project
            ),
            ADMIN,
        )
        .await;
    let set = &audit.body["events"][0];
    assert_eq!(
        set["payload"]["ProjectFallbacksSet"]["fallbacks"], chain,
        "{:?}",
        audit.body
    );
    assert!(set["metadata"]["actor"].is_string(), "{:?}", audit.body);

    // The proxy's memory follows the read model: wait until the chain is served.
    let mut answered = None;
    for _ in 0..100 {
        let r = ask(&g, &t.token).await;
        if r.status == StatusCode::OK {
            answered = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = answered.expect("the chain served the request");
    assert_eq!(r.body["choices"][0]["message"]["content"], "from the chain");
    assert_eq!(header(&r, "x-tollgate-provider"), "anthropic");

    // Cleared: the failing model's error reaches the client again, without a retry.
    let r = g.t.patch(&project, ADMIN, json!({"fallbacks": null})).await;
    assert_eq!(r.body["fallbacks"], json!({}), "{:?}", r.body);
    let openai_before = g.received(OPENAI).await.len();
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        let r = ask(&g, &t.token).await;
        status = r.status;
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(status.is_server_error(), "{status}");
    let tried = g.received(OPENAI).await.len() - openai_before;
    assert!(tried >= 1, "tried");
    let last = g.received(OPENAI).await.len();
    let r = ask(&g, &t.token).await;
    assert!(r.status.is_server_error(), "{}", r.text);
    assert_eq!(
        g.received(OPENAI).await.len() - last,
        1,
        "max_retries = 0: no retry"
    );
}
