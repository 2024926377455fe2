//! Upstream providers behind one trait, [`Adapter`]. OpenAI and every OpenAI-compatible host
//! share one adapter (`openai/`); Anthropic (`anthropic/`) and Gemini (`gemini/`) each have a
//! folder with their adapter, request/answer translation, stream translation and tests. Every
//! adapter speaks OpenAI's chat format to the rest of the gateway, except for a request that
//! came in in the provider's own protocol ([`Native`]), which passes through. The pieces they
//! share stay here: the HTTP client (`http`, `pool`, `guard`), server-sent events (`sse`,
//! `streams`), OpenAI chunks (`chunk`), the incoming request (`incoming`), usage (`types`,
//! `usage_fields`).

pub mod anthropic;
mod chunk;
pub mod gemini;
mod guard;
pub mod http;
mod http_error;
pub mod incoming;
mod openai;
mod pool;
mod sse;
mod streams;
mod types;
mod usage_fields;

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::Stream;
use serde_json::Value;
use tollgate_aggregates::Provider;

pub use chunk::{Chunk, ChunkHead};
pub use http::Http;
use http::{Req, Resp};
pub use incoming::{Incoming, Native, NativeAnswer, Protocol};
pub(crate) use streams::{ended_early, passed_on, translated, StreamTranslation};
use streams::{events, Events};
pub use types::{TranslateError, Usage};
pub use usage_fields::UsageFields;

use super::error::ProxyError;

/// OpenAI-format chunks, then (for every provider) one final chunk carrying `usage`.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, ProxyError>> + Send>>;

/// Where and as whom one upstream call goes.
#[derive(Clone)]
pub struct Target {
    pub provider: Provider,
    /// The provider's own model name.
    pub model: String,
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider.id())
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// An OpenAI-format answer as the bytes the client gets, and its usage.
pub type Answer = (Bytes, Usage);

/// How the gateway talks to one kind of upstream API: every adapter takes and gives OpenAI's
/// chat format.
pub trait Adapter: Send + Sync {
    /// A non-streaming chat completion.
    fn complete<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>>;
    /// A streaming chat completion.
    fn complete_stream<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>>;
    /// Embeddings (OpenAI format in and out).
    fn embed<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>>;
    /// Whether a chat completion for `target` builds the request's JSON tree (to translate or
    /// rewrite it), so that work done before it (the cache key) can use the same tree.
    fn reads_the_tree(&self, _target: &Target, _request: &Incoming) -> bool {
        true
    }
    /// Whether `request` came in in a protocol `target` speaks, and so goes there as the
    /// client sent it (and its answer comes back in that protocol, not as a chat answer).
    fn passes_through(&self, _target: &Target, _request: &Incoming) -> bool {
        false
    }
}

/// The protocol of the answer `target` gives `request`: the request's own when it passes
/// through, else `None` (a chat answer).
pub fn native_answer(target: &Target, request: &Incoming) -> Option<Protocol> {
    let native = request.native.as_ref()?;
    adapter(target.provider)
        .passes_through(target, request)
        .then_some(native.protocol)
}

/// An answer in a provider's own protocol as a chat completion (to replay it as a chat
/// stream); `None` when it is not one.
pub fn native_as_chat(answer: &Value) -> Option<Value> {
    if answer["type"] == "message" {
        let model = answer["model"].as_str().unwrap_or_default();
        return anthropic::response(answer, model, now())
            .ok()
            .map(|(chat, _)| chat);
    }
    (answer["object"] == "response").then(|| openai::responses::chat_answer(answer))
}

/// The client's own body for `target`, when it came in in `protocol`: the provider's model
/// name and the stream flag set, nothing else changed.
fn native_body(
    request: &Incoming,
    protocol: Protocol,
    target: &Target,
    stream: bool,
) -> Option<Value> {
    let native = request.native.as_ref().filter(|n| n.protocol == protocol)?;
    let mut body = native.body.clone();
    body["model"] = Value::from(target.model.as_str());
    body["stream"] = Value::from(stream);
    Some(body)
}

/// The protocol the proxy speaks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// OpenAI's chat completions and embeddings, as OpenAI and many hosts serve them.
    OpenAiCompatible,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini `generateContent`.
    Gemini,
}

impl Wire {
    /// The protocol `provider` speaks. Every provider is listed: a new one does not compile
    /// until it is placed here.
    pub const fn of(provider: Provider) -> Self {
        match provider {
            Provider::Anthropic => Wire::Anthropic,
            Provider::Google => Wire::Gemini,
            Provider::OpenAi
            | Provider::Mistral
            | Provider::Groq
            | Provider::DeepSeek
            | Provider::Xai
            | Provider::Together
            | Provider::OpenRouter
            | Provider::Custom => Wire::OpenAiCompatible,
        }
    }

    /// The adapter that speaks this protocol.
    pub fn adapter(self) -> &'static dyn Adapter {
        match self {
            Wire::OpenAiCompatible => &openai::OpenAiCompatible,
            Wire::Anthropic => &anthropic::Anthropic,
            Wire::Gemini => &gemini::Gemini,
        }
    }
}

/// The adapter for a provider.
pub fn adapter(provider: Provider) -> &'static dyn Adapter {
    Wire::of(provider).adapter()
}

/// Public endpoints; `TOLLGATE_PROVIDER_<NAME>_BASE_URL` or a provider key's base URL override
/// them. A custom host has none: its provider key carries it.
pub const fn default_base_url(provider: Provider) -> Option<&'static str> {
    Some(match provider {
        Provider::OpenAi => "https://api.openai.com/v1",
        Provider::Anthropic => "https://api.anthropic.com",
        Provider::Google => "https://generativelanguage.googleapis.com",
        Provider::Mistral => "https://api.mistral.ai/v1",
        Provider::Groq => "https://api.groq.com/openai/v1",
        Provider::DeepSeek => "https://api.deepseek.com/v1",
        Provider::Xai => "https://api.x.ai/v1",
        Provider::Together => "https://api.together.xyz/v1",
        Provider::OpenRouter => "https://openrouter.ai/api/v1",
        Provider::Custom => return None,
    })
}

/// A POST to the target's endpoint. The URI is parsed once per base URL and path, and found
/// again without allocating.
fn post<'h>(http: &'h Http, target: &Target, path: &str) -> Req<'h> {
    type Parsed = (::http::Uri, Option<::http::HeaderValue>);
    type Uris = crate::proxy::FastMap<String, crate::proxy::FastMap<String, Parsed>>;
    static PARSED: std::sync::LazyLock<Uris> = std::sync::LazyLock::new(Uris::default);
    let base = target.base_url.as_str();
    if let Some((u, host)) = PARSED
        .get(base)
        .and_then(|paths| paths.get(path).map(|u| u.clone()))
    {
        return http.post(u).host(host);
    }
    let text = format!("{}{path}", base.trim_end_matches('/'));
    let uri = text.parse::<::http::Uri>().unwrap_or_default();
    let host = http::host_header(&uri);
    // Bounded: base URLs come from configuration and projects' provider keys.
    if PARSED.len() < 10_000 && uri.host().is_some() {
        PARSED
            .entry(base.to_string())
            .or_default()
            .insert(path.to_string(), (uri.clone(), host.clone()));
    }
    // An unusable URL ("/" without a host) fails when the request is sent.
    http.post(uri).host(host)
}

/// Sends within the target's timeout (for streams: until the headers arrive).
async fn send(req: Req<'_>, timeout: Duration) -> Result<Resp, ProxyError> {
    match tokio::time::timeout(timeout, req.send()).await {
        Err(_) => Err(ProxyError::UpstreamTimeout),
        Ok(Err(e)) if e.is_blocked() => Err(ProxyError::UpstreamBlocked(format!(
            "the provider's base_url may not be reached: {e}"
        ))),
        Ok(Err(e)) => Err(ProxyError::Upstream {
            status: None,
            message: format!("cannot reach the provider: {e}"),
        }),
        Ok(Ok(r)) => Ok(r),
    }
}

/// Turns a non-success answer into the matching error, with the provider's own message.
async fn check(resp: Resp, message_of: fn(&Value) -> Option<String>) -> Result<Resp, ProxyError> {
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
    req: Req<'_>,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Resp, ProxyError> {
    check(send(req, timeout).await?, message_of).await
}

/// `call`, then the answer's JSON body.
async fn call_json(
    req: Req<'_>,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Value, ProxyError> {
    let bytes = call_bytes(req, timeout, message_of).await?;
    serde_json::from_slice(&bytes).map_err(unreadable)
}

/// `call`, then the answer's body as it came, read within the timeout.
async fn call_bytes(
    req: Req<'_>,
    timeout: Duration,
    message_of: fn(&Value) -> Option<String>,
) -> Result<Bytes, ProxyError> {
    let resp = call(req, timeout, message_of).await?;
    match tokio::time::timeout(timeout, resp.bytes()).await {
        Err(_) => Err(ProxyError::UpstreamTimeout),
        Ok(Err(e)) => Err(ProxyError::Upstream {
            status: None,
            message: e.to_string(),
        }),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

fn unreadable(e: serde_json::Error) -> ProxyError {
    ProxyError::Upstream {
        status: None,
        message: format!("unreadable answer: {e}"),
    }
}

/// A translated answer as the bytes sent on.
fn to_answer((answer, usage): (Value, Usage)) -> Answer {
    (
        Bytes::from(serde_json::to_vec(&answer).unwrap_or_default()),
        usage,
    )
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
        "prompt_tokens_details": prompt_details(u),
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    })
}

/// `prompt_tokens_details`: OpenAI's cached tokens and, when a provider wrote to its cache,
/// the gateway's own `cache_creation_tokens` (priced apart; clients ignore what they do not
/// know).
pub fn prompt_details(u: &Usage) -> Value {
    let mut details = serde_json::json!({"cached_tokens": u.cached_tokens});
    if u.cache_creation_tokens > 0 {
        details["cache_creation_tokens"] = u.cache_creation_tokens.into();
    }
    details
}

/// Usage from an OpenAI-format `usage` object.
pub fn usage_from_json(v: &Value) -> Option<Usage> {
    UsageFields::of(v).usage()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::{default_base_url, Provider, Wire};

    #[test]
    fn every_provider_has_a_wire_and_all_but_custom_a_base_url() {
        for p in Provider::ALL {
            assert_eq!(default_base_url(p).is_none(), p == Provider::Custom, "{p}");
        }
        assert_eq!(Wire::of(Provider::Anthropic), Wire::Anthropic);
        assert_eq!(Wire::of(Provider::Google), Wire::Gemini);
        assert_eq!(Wire::of(Provider::Custom), Wire::OpenAiCompatible);
        assert_eq!(Wire::of(Provider::OpenRouter), Wire::OpenAiCompatible);
    }
}
