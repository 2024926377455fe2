//! Upstream providers behind one trait. OpenAI and every OpenAI-compatible host share one
//! adapter; Anthropic and Gemini have adapters over their translation modules. Every adapter
//! speaks OpenAI's chat format to the rest of the gateway.

pub mod anthropic;
mod anthropic_api;
pub mod gemini;
mod gemini_api;
mod openai;
mod types;

use std::pin::Pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use serde_json::Value;

pub use types::{TranslateError, Usage};

use super::error::ProxyError;

/// OpenAI-format chunks, then (for every provider) one final chunk carrying `usage`.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, ProxyError>> + Send>>;

/// Where and as whom one upstream call goes.
#[derive(Clone)]
pub struct Target {
    pub provider: String,
    /// The provider's own model name.
    pub model: String,
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

pub trait Provider: Send + Sync {
    /// A non-streaming chat completion: the OpenAI-format answer and its usage.
    fn complete<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>>;
    /// A streaming chat completion.
    fn complete_stream<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>>;
    /// Embeddings (OpenAI format in and out).
    fn embed<'a>(
        &'a self,
        http: &'a reqwest::Client,
        target: &'a Target,
        body: &'a Value,
    ) -> BoxFuture<'a, Result<(Value, Usage), ProxyError>>;
}

/// The adapter for a provider id.
pub fn adapter(provider: &str) -> &'static dyn Provider {
    match provider {
        "anthropic" => &anthropic_api::Anthropic,
        "google" => &gemini_api::Gemini,
        _ => &openai::OpenAiCompatible,
    }
}

/// Public endpoints; `TOLLGATE_PROVIDER_<NAME>_BASE_URL` or a provider key's base URL override them.
pub fn default_base_url(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" => "https://api.openai.com/v1",
        "anthropic" => "https://api.anthropic.com",
        "google" => "https://generativelanguage.googleapis.com",
        "mistral" => "https://api.mistral.ai/v1",
        "groq" => "https://api.groq.com/openai/v1",
        "deepseek" => "https://api.deepseek.com/v1",
        "xai" => "https://api.x.ai/v1",
        "together" => "https://api.together.xyz/v1",
        "openrouter" => "https://openrouter.ai/api/v1",
        _ => return None,
    })
}

fn url(target: &Target, path: &str) -> String {
    format!("{}{path}", target.base_url.trim_end_matches('/'))
}

/// Sends within the target's timeout (for streams: until the headers arrive).
async fn send(
    req: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, ProxyError> {
    match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => Err(ProxyError::UpstreamTimeout),
        Ok(Err(e)) if e.is_timeout() => Err(ProxyError::UpstreamTimeout),
        Ok(Err(e)) => Err(ProxyError::Upstream {
            status: None,
            message: format!("cannot reach the provider: {}", e.without_url()),
        }),
        Ok(Ok(r)) => Ok(r),
    }
}

/// Turns a non-success answer into the matching error, with the provider's own message.
async fn check(
    resp: reqwest::Response,
    message_of: fn(&Value) -> Option<String>,
) -> Result<reqwest::Response, ProxyError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| message_of(&v))
        .unwrap_or_else(|| text.chars().take(500).collect());
    let message = if message.is_empty() {
        status.to_string()
    } else {
        message
    };
    Err(if status.is_client_error() {
        ProxyError::UpstreamRejected {
            status: status.as_u16(),
            message,
            retry_after,
        }
    } else {
        ProxyError::Upstream {
            status: Some(status.as_u16()),
            message,
        }
    })
}

/// Sends, and turns a non-success answer into the matching error.
async fn call(
    req: reqwest::RequestBuilder,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<reqwest::Response, ProxyError> {
    check(send(req, timeout).await?, message_of).await
}

/// `call`, then the answer's JSON body.
async fn call_json(
    req: reqwest::RequestBuilder,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Value, ProxyError> {
    json_body(call(req, timeout, message_of).await?, timeout).await
}

/// Reads a JSON body within the timeout.
async fn json_body(resp: reqwest::Response, timeout: Duration) -> Result<Value, ProxyError> {
    match tokio::time::timeout(timeout, resp.bytes()).await {
        Err(_) => Err(ProxyError::UpstreamTimeout),
        Ok(Err(e)) => Err(ProxyError::Upstream {
            status: None,
            message: e.without_url().to_string(),
        }),
        Ok(Ok(bytes)) => serde_json::from_slice(&bytes).map_err(|e| ProxyError::Upstream {
            status: None,
            message: format!("unreadable answer: {e}"),
        }),
    }
}

/// The answer's server-sent events as (event name, data).
fn events(
    resp: reqwest::Response,
) -> impl Stream<Item = Result<(String, String), ProxyError>> + Send {
    use eventsource_stream::Eventsource;
    resp.bytes_stream().eventsource().map(|item| {
        item.map(|e| (e.event, e.data))
            .map_err(|e| ProxyError::Upstream {
                status: None,
                message: format!("broken stream: {e}"),
            })
    })
}

fn bad_upstream(e: TranslateError) -> ProxyError {
    match e {
        TranslateError::InvalidRequest { param, message } => ProxyError::InvalidRequest {
            message,
            param,
            code: "invalid_value",
        },
        TranslateError::BadUpstream(message) => ProxyError::Upstream {
            status: None,
            message,
        },
    }
}

/// The final chunk that carries a stream's usage.
fn usage_chunk(id: &str, model: &str, created: i64, usage: &Usage) -> Value {
    serde_json::json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_json(usage),
    })
}

pub fn usage_json(u: &Usage) -> Value {
    serde_json::json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    })
}

/// Usage from an OpenAI-format `usage` object.
pub fn usage_from_json(v: &Value) -> Option<Usage> {
    let prompt = v.get("prompt_tokens")?.as_u64()?;
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: v["completion_tokens"].as_u64().unwrap_or(0),
        cached_tokens: v["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        reasoning_tokens: v["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap_or(0),
    })
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A stream fed by a task through a small channel; the task stops when the reader goes away
/// (its send fails), which also drops (cancels) the upstream request it owns.
pub(crate) fn async_stream<F, Fut>(produce: F) -> ChunkStream
where
    F: FnOnce(Sender) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), Closed>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let _ = produce(Sender(tx)).await;
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

pub(crate) struct Closed;

pub(crate) struct Sender(tokio::sync::mpsc::Sender<Result<Value, ProxyError>>);

impl Sender {
    pub(crate) async fn send(&self, item: Result<Value, ProxyError>) -> Result<(), Closed> {
        self.0.send(item).await.map_err(|_| Closed)
    }
}

/// A stream that stopped before the provider said it was complete is a failure, not an answer.
pub(crate) fn ended_early() -> ProxyError {
    ProxyError::Upstream {
        status: None,
        message: "the provider's stream ended before the answer was complete".into(),
    }
}

/// A provider's stream translated event by event into OpenAI chunks.
pub(crate) trait StreamTranslation: Send + 'static {
    /// One upstream event (its SSE name and parsed data) as zero or more chunks.
    fn chunks(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, TranslateError>;
    /// Whether the provider has marked the answer complete.
    fn complete(&self) -> bool;
    /// The final chunk carrying the stream's usage.
    fn usage_chunk(&self) -> Value;
}

/// Runs a translation over an upstream SSE answer; a stream that ends before the provider
/// marked it complete ends with an error.
pub(crate) fn translated(resp: reqwest::Response, mut t: impl StreamTranslation) -> ChunkStream {
    let mut upstream = Box::pin(events(resp));
    async_stream(move |tx| async move {
        while let Some(item) = upstream.next().await {
            let (event, data) = match item {
                Ok(e) => e,
                Err(e) => return tx.send(Err(e)).await,
            };
            let Ok(data) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            match t.chunks(&event, &data) {
                Ok(chunks) => {
                    for c in chunks {
                        tx.send(Ok(c)).await?;
                    }
                }
                Err(e) => return tx.send(Err(bad_upstream(e))).await,
            }
        }
        if !t.complete() {
            return tx.send(Err(ended_early())).await;
        }
        tx.send(Ok(t.usage_chunk())).await
    })
}
