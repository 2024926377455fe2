//! The adapter for OpenAI and every OpenAI-compatible host (mistral, groq, deepseek, xai,
//! together, openrouter, custom hosts): the request passes through (unknown fields too), with
//! the provider's model name, and streams ask for usage. No translation is needed. A
//! Responses API request to OpenAI passes through to OpenAI's own `/responses` (`responses`).

pub mod responses;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{
    call, call_bytes, ended_early, events, native_body, post, unreadable, Adapter, Answer, Chunk,
    ChunkHead, ChunkStream, Events, Http, Incoming, Protocol, Req, Target, UsageFields,
};
use crate::proxy::error::ProxyError;
use tollgate_aggregates::Provider;

pub struct OpenAiCompatible;

fn message_of(v: &Value) -> Option<String> {
    v["error"]["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["message"].as_str())
        .map(str::to_string)
}

fn request<'h>(http: &'h Http, target: &Target, path: &str, body: &Value) -> Req<'h> {
    post(http, target, path)
        .bearer_auth(&target.api_key)
        .json(body)
}

/// A request whose JSON body is already bytes.
fn request_bytes<'h>(http: &'h Http, target: &Target, path: &str, body: Bytes) -> Req<'h> {
    post(http, target, path)
        .bearer_auth(&target.api_key)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
}

/// A Responses request goes to OpenAI as the client wrote it (other hosts get chat completions:
/// not all of them serve the Responses API).
fn responses_body(request: &Incoming, target: &Target, stream: bool) -> Option<Value> {
    match target.provider {
        Provider::OpenAi => native_body(request, Protocol::Responses, target, stream),
        _ => None,
    }
}

/// The client's bytes may pass, already name the provider's model and set no stream options.
fn names_the_model(request: &Incoming, target: &Target) -> bool {
    request.pass_through && request.model == target.model && request.stream_options.is_none()
}

/// The client's bytes go upstream unchanged when they already name the provider's model and
/// ask for a plain answer; otherwise the parsed request is adjusted and serialized again.
fn request_as_is<'h>(
    http: &'h Http,
    target: &Target,
    path: &str,
    request: &Incoming,
) -> Option<Req<'h>> {
    let plain = names_the_model(request, target) && request.stream != Some(true);
    plain.then(|| request_bytes(http, target, path, request.raw.clone()))
}

/// A stream request goes upstream as the client's bytes with the usage option added, when it
/// already names the provider's model, asks for a stream and sets no stream options: no copy
/// of the parsed request, no serializing it again.
fn stream_as_is<'h>(
    http: &'h Http,
    target: &Target,
    path: &str,
    request: &Incoming,
) -> Option<Req<'h>> {
    let plain = names_the_model(request, target) && request.stream == Some(true);
    // The body parsed as an object with a `stream` key, so it ends with `}` after a member.
    let raw = request.raw.trim_ascii_end().strip_suffix(b"}")?;
    plain.then(|| {
        let mut bytes = Vec::with_capacity(raw.len() + 48);
        bytes.extend_from_slice(raw);
        // The gateway meters every stream, so it always asks for the usage chunk.
        bytes.extend_from_slice(br#","stream_options":{"include_usage":true}}"#);
        request_bytes(http, target, path, bytes.into())
    })
}

/// What the gateway reads of an answer it passes on: that it has choices, and its usage.
/// The rest is checked as JSON but not built into a tree.
#[derive(serde::Deserialize)]
struct AnswerHead {
    #[serde(default)]
    choices: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    usage: Option<UsageFields>,
}

fn read_head(bytes: &[u8]) -> Result<AnswerHead, ProxyError> {
    serde_json::from_slice(bytes).map_err(unreadable)
}

impl Adapter for OpenAiCompatible {
    fn complete<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>> {
        Box::pin(async move {
            if let Some(body) = responses_body(request, target, false) {
                let req = self::request(http, target, responses::PATH, &body);
                return responses::complete(req, target, message_of).await;
            }
            let path = "/chat/completions";
            let req = match request_as_is(http, target, path, request) {
                Some(req) => req,
                None => {
                    let mut body = request.json()?.clone();
                    body["model"] = json!(target.model);
                    body["stream"] = json!(false);
                    if let Some(o) = body.as_object_mut() {
                        o.remove("stream_options");
                    }
                    self::request(http, target, path, &body)
                }
            };
            let answer = call_bytes(req, target.timeout, message_of).await?;
            let head = read_head(&answer)?;
            if head.choices.is_none() {
                return Err(ProxyError::Upstream {
                    status: None,
                    message: "answer without choices".into(),
                });
            }
            let usage = head.usage.and_then(|u| u.usage());
            Ok((answer, usage.unwrap_or_default()))
        })
    }

    fn reads_the_tree(&self, target: &Target, request: &Incoming) -> bool {
        !names_the_model(request, target)
    }

    fn passes_through(&self, target: &Target, request: &Incoming) -> bool {
        target.provider == Provider::OpenAi
            && request
                .native
                .as_ref()
                .is_some_and(|n| n.protocol == Protocol::Responses)
    }

    fn complete_stream<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>> {
        Box::pin(async move {
            if let Some(body) = responses_body(request, target, true) {
                let req = self::request(http, target, responses::PATH, &body);
                return responses::stream(req, target, message_of).await;
            }
            let path = "/chat/completions";
            let req = match stream_as_is(http, target, path, request) {
                Some(req) => req,
                None => {
                    let mut body = request.json()?.clone();
                    body["model"] = json!(target.model);
                    body["stream"] = json!(true);
                    // The gateway meters every stream, so it always asks for the usage chunk.
                    body["stream_options"] = json!({"include_usage": true});
                    self::request(http, target, path, &body)
                }
            };
            let resp = call(req, target.timeout, message_of).await?;
            // Polled by the reader directly; dropping it cancels the upstream request.
            let upstream: Events = Box::pin(events(resp));
            Ok(Box::pin(futures::stream::unfold(
                Some(upstream),
                |state| async move {
                    let mut upstream = state?;
                    loop {
                        let raw = match upstream.next().await {
                            Some(Ok((_, data))) => data,
                            Some(Err(e)) => return Some((Err(e), None)),
                            // No `[DONE]`: the connection ended mid-answer.
                            None => return Some((Err(ended_early()), None)),
                        };
                        let data = raw.trim();
                        let untrimmed = data.len() == raw.len();
                        if data == "[DONE]" {
                            return None;
                        }
                        if data.is_empty() {
                            continue;
                        }
                        return match ChunkHead::read(data) {
                            Ok(head) if head.error.is_some() => {
                                let v = serde_json::from_str::<Value>(data).unwrap_or_default();
                                Some((
                                    Err(ProxyError::Upstream {
                                        status: None,
                                        message: message_of(&v)
                                            .unwrap_or_else(|| "stream error".into()),
                                    }),
                                    None,
                                ))
                            }
                            Ok(head) => {
                                let chunk = Chunk {
                                    head,
                                    // The event's own text when nothing was trimmed: no copy.
                                    text: if untrimmed { raw } else { data.to_string() },
                                };
                                Some((Ok(chunk), Some(upstream)))
                            }
                            Err(e) => Some((
                                Err(ProxyError::Upstream {
                                    status: None,
                                    message: format!("unreadable chunk: {e}"),
                                }),
                                None,
                            )),
                        };
                    }
                },
            )) as ChunkStream)
        })
    }

    fn embed<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        request: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>> {
        Box::pin(async move {
            let path = "/embeddings";
            let req = match request_as_is(http, target, path, request) {
                Some(req) => req,
                None => {
                    let mut body = request.json()?.clone();
                    body["model"] = json!(target.model);
                    self::request(http, target, path, &body)
                }
            };
            let answer = call_bytes(req, target.timeout, message_of).await?;
            let usage = read_head(&answer)?.usage.and_then(|u| u.usage());
            Ok((answer, usage.unwrap_or_default()))
        })
    }
}
