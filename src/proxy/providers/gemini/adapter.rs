//! Google Gemini's generateContent / streamGenerateContent, over the translation in `translate`.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{translate, StreamState};
use crate::proxy::error::ProxyError;
use crate::proxy::providers::{
    bad_upstream, call, call_json, now, post, to_answer, translated, usage_chunk, Adapter, Answer,
    ChunkStream, Http, Incoming, Req, StreamTranslation, Target, TranslateError,
};

pub struct Gemini;

fn request<'h>(http: &'h Http, target: &Target, method: &str, body: &Value) -> Req<'h> {
    let path = format!("/v1beta/models/{}:{method}", target.model);
    post(http, target, &path)
        .header("x-goog-api-key", &target.api_key)
        .json(body)
}

fn message_of(v: &Value) -> Option<String> {
    translate::error_message(v)
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
}

impl Adapter for Gemini {
    fn complete<'a>(
        &'a self,
        http: &'a Http,
        target: &'a Target,
        incoming: &'a Incoming,
    ) -> BoxFuture<'a, Result<Answer, ProxyError>> {
        Box::pin(async move {
            let body = incoming.json()?;
            let upstream = translate::request(body).map_err(bad_upstream)?;
            let answer = call_json(
                request(http, target, "generateContent", &upstream),
                target.timeout,
                message_of,
            )
            .await?;
            let model = body["model"].as_str().unwrap_or(&target.model);
            translate::response(&answer, model, &completion_id(), now())
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
            let upstream = translate::request(body).map_err(bad_upstream)?;
            let req = request(http, target, "streamGenerateContent?alt=sse", &upstream);
            let resp = call(req, target.timeout, message_of).await?;
            let model = body["model"].as_str().unwrap_or(&target.model).to_string();
            let (id, created) = (completion_id(), now());
            let state = StreamState::new(&model, &id, created);
            let t = Translation {
                state,
                finished: false,
                id,
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
                "embeddings through Gemini are not supported yet",
            ))
        })
    }
}

struct Translation {
    state: StreamState,
    /// Gemini marks the end of an answer with a finish reason on its last chunk.
    finished: bool,
    id: String,
    model: String,
    created: i64,
}

impl StreamTranslation for Translation {
    fn chunks(&mut self, _event: &str, data: &Value) -> Result<Vec<Value>, TranslateError> {
        let chunks = self.state.on_chunk(data)?;
        self.finished |= chunks.iter().any(|c| {
            c["choices"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|ch| !ch["finish_reason"].is_null())
        });
        Ok(chunks)
    }

    fn complete(&self) -> bool {
        self.finished
    }

    fn usage_chunk(&self) -> Value {
        usage_chunk(&self.id, &self.model, self.created, &self.state.usage())
    }
}
