//! `POST /v1/messages` (Anthropic's Messages API) and `POST /v1/messages/count_tokens`. A
//! request is served by the chat pipeline: to Anthropic models its body passes through as
//! the client wrote it (`cache_control`, `thinking`, `top_k` included) and Anthropic's answer
//! or event stream comes back as it is; to other providers it goes as the chat request made
//! of it, and the chat answer is translated back (a message, Anthropic's event stream, or
//! Anthropic's error shape).

mod answer;
mod request;
mod stream;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::proxy::error::ProxyError;
use crate::proxy::providers::NativeAnswer;
use crate::proxy::request::{authenticate, read_body};
use crate::proxy::{access, chat, pricing, Proxy};

/// `POST /v1/messages`.
pub async fn create(State(proxy): State<Arc<Proxy>>, request: axum::extract::Request) -> Response {
    let started = std::time::Instant::now();
    let response = chat::serve(proxy, request, started, "messages", request::to_chat).await;
    from_chat(response).await
}

/// `POST /v1/messages/count_tokens`: the prompt's tokens by the gateway's tokenizer, for a key
/// that may use the gateway (nothing is metered).
pub async fn count_tokens(
    State(proxy): State<Arc<Proxy>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let counted = async {
        authenticate(&proxy, &parts.headers)?;
        let raw = read_body(body, proxy.settings.max_body_bytes).await?;
        let body: Value =
            serde_json::from_slice(&raw).map_err(|e| ProxyError::malformed_json(&e))?;
        let mut body = body;
        // Counting needs no output budget.
        if body.is_object() && body.get("max_tokens").is_none() {
            body["max_tokens"] = json!(1);
        }
        let chat = request::chat_of(&body)?;
        Ok::<_, ProxyError>(pricing::prompt_tokens(&chat))
    };
    match counted.await {
        Ok(tokens) => axum::Json(json!({"input_tokens": tokens})).into_response(),
        Err(e) => from_chat(e.into_response()).await,
    }
}

/// 405 on the Messages routes, in Anthropic's shape.
pub async fn not_allowed(method: Method, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let response = access::method_not_allowed("messages")(method, uri, headers).await;
    from_chat(response).await
}

/// The chat pipeline's answer in Anthropic's shape; its headers (request id, cost, cache,
/// rate limits, retry-after) are kept.
async fn from_chat(response: Response) -> Response {
    // A provider that speaks this protocol answered: its answer goes on as it came.
    if response.extensions().get::<NativeAnswer>().is_some() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if parts.status.is_success() && super::is_stream(&parts.headers) {
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
    let raw = super::body_of(body).await;
    let chat: Value = serde_json::from_slice(&raw).unwrap_or_default();
    let out = match parts.status.is_success() {
        true => answer::message(&chat),
        false => answer::error(parts.status, &chat),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(out.to_string()))
}
