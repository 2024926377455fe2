use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, ADMIN};
use crate::upstream::{ask, openai_answer, spawn_gateway};

both!(each_rule_type_is_checked_against_the_routed_provider);

async fn each_rule_type_is_checked_against_the_routed_provider(backend: Backend) {
    let g = spawn_gateway(backend).await;
    for p in ["openai", "openrouter", "groq", "together"] {
        g.answer(p, openai_answer(p, 5, 5)).await;
    }
    let tenant = g.tenant("credits", 5.0, &[], None).await;
    let rules = |r: serde_json::Value| {
        let path = format!("/api/keys/{}/iam-rules", tenant.key_id);
        let t = &g.t;
        async move {
            let res = t.put(&path, ADMIN, json!({ "rules": r })).await;
            assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
        }
    };
    let provider_of = |model: &'static str| {
        let token = tenant.token.clone();
        let g = &g;
        async move {
            let r = g.chat(&token, ask(model)).await;
            match r.status {
                StatusCode::OK => Ok(r.headers["x-tollgate-provider"]
                    .to_str()
                    .unwrap()
                    .to_string()),
                _ => Err((
                    r.status,
                    r.code().to_string(),
                    r.body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )),
            }
        }
    };
    // Without rules the cheapest provider serves.
    assert_eq!(provider_of("llama-3.3-70b-instruct").await.unwrap(), "groq");

    rules(json!([{"type": "deny_providers", "providers": ["groq"]}])).await;
    assert_eq!(
        provider_of("llama-3.3-70b-instruct").await.unwrap(),
        "together",
        "routing skips the denied provider"
    );
    let denied = provider_of("groq/llama-3.3-70b-instruct")
        .await
        .unwrap_err();
    assert_eq!(
        (denied.0, denied.1.as_str()),
        (StatusCode::FORBIDDEN, "iam_denied")
    );
    assert!(denied.2.contains("deny_providers"), "{}", denied.2);

    rules(json!([{"type": "allow_providers", "providers": ["together"]}])).await;
    assert_eq!(
        provider_of("llama-3.3-70b-instruct").await.unwrap(),
        "together"
    );
    assert!(provider_of("gpt-4o-mini")
        .await
        .unwrap_err()
        .2
        .contains("allow_providers"));

    rules(json!([{"type": "allow_models", "models": ["gpt-4o-mini"]}])).await;
    assert_eq!(provider_of("gpt-4o-mini").await.unwrap(), "openai");
    assert!(provider_of("llama-3.3-70b-instruct")
        .await
        .unwrap_err()
        .2
        .contains("allow_models"));

    rules(json!([{"type": "deny_models", "models": ["openai/gpt-4o-mini"]}])).await;
    assert_eq!(
        provider_of("gpt-4o-mini").await.unwrap(),
        "openrouter",
        "denied only from openai"
    );
    rules(json!([{"type": "deny_models", "models": ["gpt-4o-mini"]}])).await;
    assert!(provider_of("gpt-4o-mini")
        .await
        .unwrap_err()
        .2
        .contains("deny_models"));

    rules(json!([{"type": "allow_pricing", "pricing_type": "free"}])).await;
    assert_eq!(
        provider_of("llama-3.3-70b-instruct-free").await.unwrap(),
        "openrouter"
    );
    assert!(provider_of("gpt-4o-mini")
        .await
        .unwrap_err()
        .2
        .contains("allow_pricing"));

    rules(
        json!([{"type": "allow_pricing", "pricing_type": "paid", "max_input_usd_per_mtok": 0.5}]),
    )
    .await;
    assert_eq!(provider_of("gpt-4o-mini").await.unwrap(), "openai");
    assert!(
        provider_of("llama-3.3-70b-instruct").await.is_err(),
        "groq 0.59 and together 0.88 are above 0.5"
    );
    assert!(
        provider_of("llama-3.3-70b-instruct-free").await.is_err(),
        "free is not paid"
    );

    rules(
        json!([{"type": "deny_pricing", "pricing_type": "paid", "max_output_usd_per_mtok": 0.8}]),
    )
    .await;
    assert_eq!(
        provider_of("llama-3.3-70b-instruct").await.unwrap(),
        "together",
        "groq's 0.79 output is denied, together's 0.88 is not"
    );

    rules(json!([])).await;
    assert_eq!(provider_of("llama-3.3-70b-instruct").await.unwrap(), "groq");
}
