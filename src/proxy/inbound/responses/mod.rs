//! `POST /v1/responses` (OpenAI's Responses API). A request is served by the chat pipeline:
//! to OpenAI it passes through as the client wrote it (OpenAI's answer or event stream comes
//! back as it is); to other providers it goes as the chat request made of it, and the chat
//! answer comes back as a `response` object or the Responses event stream. Errors keep OpenAI's shape, which is this API's too. The
//! gateway stores no responses: `previous_response_id` is refused with a 400 and `store` has
//! no effect.

mod answer;
mod request;
mod stream;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures::StreamExt;
use serde_json::Value;

use crate::proxy::providers::NativeAnswer;
use crate::proxy::{chat, Proxy};

/// `POST /v1/responses`.
pub async fn create(State(proxy): State<Arc<Proxy>>, request: axum::extract::Request) -> Response {
    let started = std::time::Instant::now();
    let response = chat::serve(proxy, request, started, "responses", request::to_chat).await;
    from_chat(response).await
}

async fn from_chat(response: Response) -> Response {
    // A provider that speaks this protocol answered: its answer goes on as it came.
    if response.extensions().get::<NativeAnswer>().is_some() {
        return response;
    }
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if super::is_stream(&parts.headers) {
        let mut events = stream::Events::default();
        let mapped = body.into_data_stream().map(move |chunk| {
            Ok::<_, std::convert::Infallible>(match chunk {
                Ok(bytes) => events.feed(&bytes),
                // The connection to the provider broke: the stream ends where it is.
                Err(_) => axum::body::Bytes::new(),
            })
        });
        return Response::from_parts(parts, Body::from_stream(mapped));
    }
    let chat: Value = serde_json::from_slice(&super::body_of(body).await).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(answer::complete(&chat).to_string()))
}
