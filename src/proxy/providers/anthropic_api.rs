//! Anthropic's Messages API, over the translation in `anthropic`.

use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::Value;

use super::{
    anthropic, async_stream, bad_upstream, check, ended_early, events, json_body, now, send, url,
    usage_chunk, ChunkStream, Provider, Target, Usage,
};
use crate::proxy::error::ProxyError;

pub struct Anthropic;

const VERSION: &str = "2023-06-01";

fn request(http: &reqwest::Client, target: &Target, body: &Value) -> reqwest::RequestBuilder {
    http.post(url(target, "/v1/messages"))
        .header("x-api-key", &target.api_key)
        .header("anthropic-version", VERSION)
        .json(body)
}

fn message_of(v: &Value) -> Option<String> {
    anthropic::error_message(v)
}

impl Provider for Anthropic {
    fn complete<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>> {
        Box::pin(async move {
            let upstream = anthropic::request(body, &target.model, false).map_err(bad_upstream)?;
            let resp = check(
                send(request(http, target, &upstream), target.timeout).await?,
                message_of,
            )
            .await?;
            let answer = json_body(resp, target.timeout).await?;
            let model = body["model"].as_str().unwrap_or(&target.model);
            anthropic::response(&answer, model, now()).map_err(bad_upstream)
        })
    }

    fn complete_stream<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>> {
        Box::pin(async move {
            let upstream = anthropic::request(body, &target.model, true).map_err(bad_upstream)?;
            let resp = check(
                send(request(http, target, &upstream), target.timeout).await?,
                message_of,
            )
            .await?;
            let model = body["model"].as_str().unwrap_or(&target.model).to_string();
            let created = now();
            let mut state = anthropic::StreamState::new(&model, created);
            let mut id = String::new();
            let mut upstream_events = Box::pin(events(resp));
            let stream = async_stream(move |tx| async move {
                while let Some(item) = upstream_events.next().await {
                    let (event, data) = match item {
                        Ok(e) => e,
                        Err(e) => return tx.send(Err(e)).await,
                    };
                    let Ok(data) = serde_json::from_str::<Value>(&data) else {
                        continue;
                    };
                    if event == "message_start" {
                        id = data["message"]["id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                    }
                    match state.on_event(&event, &data) {
                        Ok(chunks) => {
                            for c in chunks {
                                tx.send(Ok(c)).await?;
                            }
                        }
                        Err(e) => return tx.send(Err(bad_upstream(e))).await,
                    }
                    if state.is_done() {
                        break;
                    }
                }
                if !state.is_done() {
                    return tx.send(Err(ended_early())).await;
                }
                tx.send(Ok(usage_chunk(&id, &model, created, &state.usage())))
                    .await
            });
            Ok(stream)
        })
    }

    fn embed<'a>(
        &'a self,
        _: &'a reqwest::Client,
        _: &'a Target,
        _: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>> {
        Box::pin(async {
            Err(ProxyError::invalid(
                "model",
                "Anthropic offers no embeddings",
            ))
        })
    }
}
