//! OpenAI and every OpenAI-compatible host: the request passes through (unknown fields too),
//! with the provider's model name, and streams ask for usage.

use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{
    async_stream, call, call_json, ended_early, events, url, usage_from_json, ChunkStream,
    Provider, Target, Usage,
};
use crate::proxy::error::ProxyError;

pub struct OpenAiCompatible;

fn message_of(v: &Value) -> Option<String> {
    v["error"]["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["message"].as_str())
        .map(str::to_string)
}

fn request(
    http: &reqwest::Client,
    target: &Target,
    path: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    http.post(url(target, path))
        .bearer_auth(&target.api_key)
        .json(body)
}

impl Provider for OpenAiCompatible {
    fn complete<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>> {
        Box::pin(async move {
            let mut body = body.clone();
            body["model"] = json!(target.model);
            body["stream"] = json!(false);
            if let Some(o) = body.as_object_mut() {
                o.remove("stream_options");
            }
            let answer = call_json(
                request(http, target, "/chat/completions", &body),
                target.timeout,
                message_of,
            )
            .await?;
            if !answer["choices"].is_array() {
                return Err(ProxyError::Upstream {
                    status: None,
                    message: "answer without choices".into(),
                });
            }
            let usage = usage_from_json(&answer["usage"]).unwrap_or_default();
            Ok((answer, usage))
        })
    }

    fn complete_stream<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>> {
        Box::pin(async move {
            let mut body = body.clone();
            body["model"] = json!(target.model);
            body["stream"] = json!(true);
            // The gateway meters every stream, so it always asks for the usage chunk.
            body["stream_options"] = json!({"include_usage": true});
            let resp = call(
                request(http, target, "/chat/completions", &body),
                target.timeout,
                message_of,
            )
            .await?;
            let mut upstream_events = Box::pin(events(resp));
            Ok(async_stream(move |tx| async move {
                while let Some(item) = upstream_events.next().await {
                    let data = match item {
                        Ok((_, data)) => data,
                        Err(e) => return tx.send(Err(e)).await,
                    };
                    let data = data.trim();
                    if data == "[DONE]" {
                        return Ok(());
                    }
                    if data.is_empty() {
                        continue;
                    }
                    let chunk = match serde_json::from_str::<Value>(data) {
                        Ok(v) if v.get("error").is_some() => Err(ProxyError::Upstream {
                            status: None,
                            message: message_of(&v).unwrap_or_else(|| "stream error".into()),
                        }),
                        Ok(v) => Ok(v),
                        Err(e) => Err(ProxyError::Upstream {
                            status: None,
                            message: format!("unreadable chunk: {e}"),
                        }),
                    };
                    let failed = chunk.is_err();
                    tx.send(chunk).await?;
                    if failed {
                        return Ok(());
                    }
                }
                // No `[DONE]`: the connection ended mid-answer.
                tx.send(Err(ended_early())).await
            }))
        })
    }

    fn embed<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>> {
        Box::pin(async move {
            let mut body = body.clone();
            body["model"] = json!(target.model);
            let answer = call_json(
                request(http, target, "/embeddings", &body),
                target.timeout,
                message_of,
            )
            .await?;
            let usage = usage_from_json(&answer["usage"]).unwrap_or_default();
            Ok((answer, usage))
        })
    }
}
