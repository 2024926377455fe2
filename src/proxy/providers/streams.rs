//! Provider event streams as the gateway reads them: translated into OpenAI chunks event by
//! event (`translated`), or passed on as they came while read through the same translation
//! (`passed_on`).

use std::pin::Pin;

use futures::{Stream, StreamExt};
use serde_json::Value;

use super::http::Resp;
use super::{bad_upstream, sse, Chunk, ChunkHead, ChunkStream, TranslateError};
use crate::proxy::error::ProxyError;

/// The answer's server-sent events as (event name, data).
pub(super) fn events(
    resp: Resp,
) -> impl Stream<Item = Result<(String, String), ProxyError>> + Send {
    sse::events(resp.bytes_stream()).map(|item| {
        item.map_err(|e| ProxyError::Upstream {
            status: None,
            message: format!("broken stream: {e}"),
        })
    })
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
/// marked it complete ends with an error. The stream is polled by its reader directly (no task
/// in between: one wakeup less per chunk), and dropping it cancels the upstream request.
pub(crate) fn translated(resp: Resp, t: impl StreamTranslation) -> ChunkStream {
    let state = Translating {
        upstream: Box::pin(events(resp)),
        t,
        pending: std::collections::VecDeque::new(),
    };
    Box::pin(futures::stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk.into()), Some(st)));
            }
            match st.upstream.next().await {
                Some(Ok((event, data))) => {
                    let Ok(data) = serde_json::from_str::<Value>(&data) else {
                        continue;
                    };
                    match st.t.chunks(&event, &data) {
                        Ok(chunks) => st.pending.extend(chunks),
                        Err(e) => return Some((Err(bad_upstream(e)), None)),
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None if !st.t.complete() => return Some((Err(ended_early()), None)),
                None => return Some((Ok(st.t.usage_chunk().into()), None)),
            }
        }
    }))
}

/// A provider's stream passed on event by event as it came (`event:` and `data:`), each
/// event also read through a translation into the chunk fields the gateway meters and
/// caches. The final item carries the usage and no text (nothing to send for it).
pub(crate) fn passed_on(resp: Resp, t: impl StreamTranslation) -> ChunkStream {
    let state = (Box::pin(events(resp)) as Events, t);
    Box::pin(futures::stream::unfold(Some(state), |state| async move {
        let (mut upstream, mut t) = state?;
        match upstream.next().await {
            Some(Ok((event, data))) => {
                let head = match serde_json::from_str::<Value>(&data) {
                    Ok(parsed) => match t.chunks(&event, &parsed) {
                        Ok(chunks) => chunks.first().map(ChunkHead::of).unwrap_or_default(),
                        Err(e) => return Some((Err(bad_upstream(e)), None)),
                    },
                    Err(_) => ChunkHead::default(),
                };
                // A payload of several lines is several `data:` lines.
                let data = data.replace('\n', "\ndata: ");
                let text = match event.is_empty() {
                    true => format!("data: {data}\n\n"),
                    false => format!("event: {event}\ndata: {data}\n\n"),
                };
                Some((Ok(Chunk { head, text }), Some((upstream, t))))
            }
            Some(Err(e)) => Some((Err(e), None)),
            None if !t.complete() => Some((Err(ended_early()), None)),
            None => {
                let head = ChunkHead::of(&t.usage_chunk());
                Some((
                    Ok(Chunk {
                        head,
                        text: String::new(),
                    }),
                    None,
                ))
            }
        }
    }))
}

pub(super) type Events = Pin<Box<dyn Stream<Item = Result<(String, String), ProxyError>> + Send>>;

struct Translating<T> {
    upstream: Events,
    t: T,
    /// Chunks of one upstream event not yet handed out.
    pending: std::collections::VecDeque<Value>,
}
