//! Anthropic's Messages API, over the translation in `translate`.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{translate, StreamState};
use crate::proxy::error::ProxyError;
use crate::proxy::providers::{
    bad_upstream, call, call_bytes, call_json, native_body, now, passed_on, post, to_answer,
    translated, unreadable, usage_chunk, Adapter, Answer, ChunkStream, Http, Incoming, Protocol,
    Req, StreamTranslation, Target, TranslateError,
};

pub struct Anthropic;

const VERSION: &str = "2023-06-01";

fn request<'h>(http: &'h Http, target: &Target, body: &Value) -> Req<'h> {
    post(http, target, "/v1/messages")
        .header("x-api-key", &target.api_key)
        .header("anthropic-version", VERSION)
        .json(body)
}

fn message_of(v: &Value) -> Option<String> {
    translate::error_message(v)
}

impl Adapter for Anthropic {
    fn complete<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        incoming: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>> {
        Box::pin(async move {
            if let Some(native) = native_body(incoming, Protocol::Messages, target, false) {
                return passed(http, target, &native).await;
            }
            let body = incoming.json()?;
            let upstream = translate::request(body, &target.model, false).map_err(bad_upstream)?;
            let answer =
                call_json(request(http, target, &upstream), target.timeout, message_of).await?;
            let model = body["model"].as_str().unwrap_or(&target.model);
            translate::response(&answer, model, now())
                .map(to_answer)
                .map_err(bad_upstream)
        })
    }

    fn complete_stream<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        incoming: &'a Incoming,
    ) -> BoxFuture<'a, Result<ChunkStream, ProxyError>> {
        Box::pin(async move {
            let native = native_body(incoming, Protocol::Messages, target, true);
            let pass = native.is_some();
            let body = incoming.json()?;
            let upstream = match native {
                Some(native) => native,
                None => translate::request(body, &target.model, true).map_err(bad_upstream)?,
            };
            let resp = call(request(http, target, &upstream), target.timeout, message_of).await?;
            let model = body["model"].as_str().unwrap_or(&target.model).to_string();
            let created = now();
            let state = StreamState::new(&model, created);
            let t = Translation {
                state,
                id: String::new(),
                model,
                created,
            };
            Ok(match pass {
                true => passed_on(resp, t),
                false => translated(resp, t),
            })
        })
    }

    fn passes_through(&self, _: &Target, incoming: &Incoming) -> bool {
        incoming
            .native
            .as_ref()
            .is_some_and(|n| n.protocol == Protocol::Messages)
    }

    fn embed<'a>(
        &'a self,
        _: &'a Http,
        _: &'a Target,
        _: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>> {
        Box::pin(async {
            Err(ProxyError::invalid(
                "model",
                "Anthropic offers no embeddings",
            ))
        })
    }
}

/// A Messages request sent as the client wrote it: the answer goes back as Anthropic's
/// bytes, with its usage read.
async fn passed(http: &Http, target: &Target, body: &Value) -> Result<Answer, ProxyError> {
    let bytes = call_bytes(request(http, target, body), target.timeout, message_of).await?;
    let answer: Value = serde_json::from_slice(&bytes).map_err(unreadable)?;
    if answer["type"] != "message" {
        let message = message_of(&answer).unwrap_or_else(|| "the answer is not a message".into());
        return Err(bad_upstream(TranslateError::BadUpstream(message)));
    }
    Ok((bytes, translate::usage_of(&answer)))
}

struct Translation {
    state: StreamState,
    /// The message id, from `message_start`.
    id: String,
    model: String,
    created: i64,
}

impl StreamTranslation for Translation {
    fn chunks(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, TranslateError> {
        if event == "message_start" {
            self.id = data["message"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        self.state.on_event(event, data)
    }

    fn complete(&self) -> bool {
        self.state.is_done()
    }

    fn usage_chunk(&self) -> Value {
        usage_chunk(&self.id, &self.model, self.created, &self.state.usage())
    }
}
