//! Anthropic's Messages API, over the translation in `translate`.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{translate, StreamState};
use crate::proxy::error::ProxyError;
use crate::proxy::providers::{
    bad_upstream, call, call_json, now, post, to_answer, translated, usage_chunk, Adapter, Answer,
    ChunkStream, Http, Incoming, Req, StreamTranslation, Target, TranslateError,
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
            let body = incoming.json()?;
            let upstream = translate::request(body, &target.model, true).map_err(bad_upstream)?;
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
            Ok(translated(resp, t))
        })
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
