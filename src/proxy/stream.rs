//! Streaming answers: chunks are forwarded as they arrive (SSE `data:` lines, then
//! `data: [DONE]`), usage is taken from the provider's final chunk (or estimated), a client
//! that goes away cancels the upstream request and still gets its usage recorded, and cached
//! answers are replayed as a stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};

use super::accumulate::Accumulator;
use super::meter::Meter;
use super::pricing;
use super::providers::{Chunk, ChunkStream, Incoming, NativeAnswer, Protocol, Usage};
use super::route::Route;
use super::Proxy;

/// An upstream stream and what is needed to meter and cache it.
pub struct Upstream {
    pub chunks: ChunkStream,
    pub route: Route,
    pub body: Incoming,
    /// Where and how long to keep the answer, if it is kept.
    pub cache: Option<(String, Duration)>,
    /// `x-tollgate-cache`: `MISS` when the cache was asked, else `BYPASS`.
    pub cache_status: &'static str,
    /// The provider's events pass on as they came, in the client's own protocol (each chunk's
    /// text is a whole event), instead of as chat chunks.
    pub native: Option<Protocol>,
}

fn sse_bytes(data: &str) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

fn sse_response(
    body: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
    provider: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    // Room for every header the answer gets, rate limits' included: the map is not grown.
    *response.headers_mut() = HeaderMap::with_capacity(super::headers::ANSWER_CAPACITY);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(super::headers::CACHE, HeaderValue::from_static(cache));
    // A provider's id is static text (`Provider::id`): no copy.
    h.insert(super::headers::PROVIDER, HeaderValue::from_static(provider));
    response
}

/// The response body is polled straight from the provider's stream by the connection that
/// sends it (no task and channel in between: one wakeup less per chunk). If the client goes
/// away, the connection drops the body: `Forwarding`'s `Drop` charges what was streamed and
/// the meter records it as 499, and the upstream request is cancelled with it.
pub fn forward(proxy: Arc<Proxy>, upstream: Upstream, meter: Meter) -> Response {
    let provider = upstream.route.offer.provider.id();
    let include_usage = upstream.body.wants_usage();
    let cache_status = upstream.cache_status;
    let native = upstream.native;
    let state = Forwarding {
        proxy,
        upstream,
        meter: Some(meter),
        include_usage,
        acc: Accumulator::default(),
        usage: None,
        tail: Vec::new(),
        written: false,
    };
    let body = futures::stream::unfold(state, |mut st| async move {
        st.next().await.map(|bytes| (Ok(bytes), st))
    });
    let mut response = sse_response(body, provider, cache_status);
    if let Some(p) = native {
        response.extensions_mut().insert(NativeAnswer(p));
    }
    response
}

/// A mid-stream error as the protocol's own `error` event.
fn native_error(protocol: Protocol, e: &super::error::ProxyError) -> Bytes {
    let message = e.to_string();
    let data = match protocol {
        Protocol::Messages => {
            json!({"type": "error", "error": {"type": "api_error", "message": message}})
        }
        Protocol::Responses => {
            json!({"type": "error", "code": "server_error", "message": message, "param": null})
        }
    };
    Bytes::from(format!("event: error\ndata: {data}\n\n"))
}

struct Forwarding {
    proxy: Arc<Proxy>,
    upstream: Upstream,
    /// Taken when the request is finished (then nothing is left for `Drop`).
    meter: Option<Meter>,
    include_usage: bool,
    acc: Accumulator,
    usage: Option<Usage>,
    /// What is still to be sent after the provider's stream ended (reversed).
    tail: Vec<Bytes>,
    /// The first bytes have gone to the client.
    written: bool,
}

/// Bytes gathered into one write at most: a long answer that arrived at once still goes on in
/// pieces.
const MAX_WRITE: usize = 64 * 1024;

/// Lets the event loop run the tasks queued before this one, without `yield_now`'s polling
/// of the I/O driver (a system call each time): the upstream connection's task, woken by
/// the last poll, decodes the next chunk meanwhile.
async fn requeue() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if queued {
            return std::task::Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

/// What one item of the provider's stream gives the client.
enum Step {
    Send(Bytes),
    /// Nothing to send for it (a usage chunk the client did not ask for).
    Skip,
    /// The request is finished: nothing comes after this.
    Finished(Bytes),
}

type Item = Option<Result<Chunk, super::error::ProxyError>>;

impl Forwarding {
    /// The next bytes for the client: the next chunk as soon as it arrives, together with the
    /// chunks that arrived with it. Nothing waits for the provider: the first chunk goes at
    /// once, a later one waits at most two turns of this thread's event loop (no timer) for
    /// the chunks already received, and what the provider sent in one piece goes on in one
    /// write instead of one each (which kept this thread writing while the client waited to
    /// be woken).
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(last) = self.tail.pop() {
            return Some(last);
        }
        let mut out = loop {
            // The meter stays in `self` while waiting, so a dropped body finds it in `Drop`.
            let meter = self.meter.as_mut()?;
            let waited = std::time::Instant::now();
            let item = self.upstream.chunks.next().await;
            meter.upstream += waited.elapsed();
            match self.step(item)? {
                Step::Send(bytes) => break bytes,
                Step::Skip => continue,
                Step::Finished(bytes) => return Some(bytes),
            }
        };
        let mut more: Option<Vec<u8>> = None;
        while self.meter.is_some() && more.as_ref().map_or(out.len(), Vec::len) < MAX_WRITE {
            let item = match self.upstream.chunks.next().now_or_never() {
                Some(item) => item,
                // After the first write: the upstream connection's task hands the body over
                // one frame at a time, so let it run; what has already arrived then goes on
                // in this write instead of one write (a system call) per chunk. The first
                // chunk never waits for this.
                None if self.written => {
                    // A chunk already received takes two turns of the loop (the connection's
                    // task decodes it, then hands it over).
                    let mut next = None;
                    for _ in 0..2 {
                        requeue().await;
                        next = self.upstream.chunks.next().now_or_never();
                        if next.is_some() {
                            break;
                        }
                    }
                    match next {
                        Some(item) => item,
                        None => break,
                    }
                }
                None => break,
            };
            let (bytes, finished) = match self.step(item) {
                Some(Step::Send(b)) => (b, false),
                Some(Step::Skip) => continue,
                Some(Step::Finished(b)) => (b, true),
                None => break,
            };
            more.get_or_insert_with(|| out.to_vec())
                .extend_from_slice(&bytes);
            if finished {
                while let Some(b) = self.tail.pop() {
                    more.get_or_insert_with(Vec::new).extend_from_slice(&b);
                }
                break;
            }
        }
        if let Some(more) = more {
            out = Bytes::from(more);
        }
        self.written = true;
        Some(out)
    }

    /// Meters one item of the provider's stream and says what the client gets for it.
    fn step(&mut self, item: Item) -> Option<Step> {
        match item {
            Some(Ok(Chunk { head, text })) => {
                if let Some(u) = head.usage.and_then(|u| u.usage()) {
                    self.usage = Some(u);
                }
                if self.upstream.native.is_some() {
                    // A whole event of the provider's, or nothing to send (the closing usage).
                    self.acc.add(&head);
                    if text.is_empty() {
                        return Some(Step::Skip);
                    }
                    self.meter.as_mut()?.first_token();
                    return Some(Step::Send(Bytes::from(text)));
                }
                let usage_only = head.choices.as_ref().is_some_and(|c| c.is_empty());
                if usage_only && !self.include_usage {
                    return Some(Step::Skip);
                }
                self.acc.add(&head);
                self.meter.as_mut()?.first_token();
                Some(Step::Send(sse_bytes(&text)))
            }
            Some(Err(e)) => {
                // Mid-stream errors are sent as an error chunk, then the stream ends cleanly.
                let (meter, _) = self.finishing()?;
                // Spooled before the last chunk leaves; queued in a task of its own, so that
                // dropping the body does not lose it.
                let sealed = meter.seal(e.status().as_u16(), Some(&e));
                self.proxy.tasks.spawn(sealed.send());
                if let Some(p) = self.upstream.native {
                    return Some(Step::Send(native_error(p, &e)));
                }
                let body = e.body().to_string();
                self.tail = vec![sse_bytes("[DONE]")];
                Some(Step::Send(sse_bytes(&body)))
            }
            None => {
                let (meter, usage) = self.finishing()?;
                let cache = self.upstream.cache.take().map(|(key, ttl)| {
                    let answer = super::cache::CachedAnswer {
                        body: Bytes::from(
                            serde_json::to_vec(&self.acc.completion(&usage)).unwrap_or_default(),
                        ),
                        usage,
                        stored_at: self.proxy.state.clock.now(),
                    };
                    (key, answer, ttl)
                });
                // Spooled before `[DONE]` leaves.
                let sealed = meter.seal(200, None);
                let proxy = self.proxy.clone();
                self.proxy.tasks.spawn(async move {
                    if let Some((key, answer, ttl)) = cache {
                        proxy.cache.put(key, answer, ttl).await;
                    }
                    sealed.send().await;
                });
                // A provider's own protocol ends with its own last event (no `[DONE]`).
                Some(Step::Finished(match self.upstream.native {
                    Some(_) => Bytes::new(),
                    None => sse_bytes("[DONE]"),
                }))
            }
        }
    }

    /// Takes the meter out, charged with the stream's usage.
    fn finishing(&mut self) -> Option<(Meter, Usage)> {
        let mut meter = self.meter.take()?;
        let usage = charge(&self.upstream, &self.acc, self.usage, &mut meter);
        Some((meter, usage))
    }
}

/// Charges the provider's usage, or an estimate of what was streamed when it sent none.
fn charge(
    upstream: &Upstream,
    acc: &Accumulator,
    usage: Option<Usage>,
    meter: &mut Meter,
) -> Usage {
    let (usage, estimated) = match usage {
        Some(u) => (u, false),
        None => (
            Usage {
                prompt_tokens: upstream.body.json().map_or(0, pricing::prompt_tokens),
                completion_tokens: pricing::count_tokens(&acc.text()),
                ..Usage::default()
            },
            true,
        ),
    };
    meter.charge(&upstream.route, usage, estimated);
    usage
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        // Still metering: the client went away mid-stream. The meter's own `Drop` records
        // the request as 499 with what was charged here.
        if let Some(mut meter) = self.meter.take() {
            charge(&self.upstream, &self.acc, self.usage, &mut meter);
        }
    }
}

/// A cached answer sent as a stream: the role and content, tool calls, the finish reason,
/// usage when asked for, then `[DONE]`.
pub fn replay(answer: &Value, body: &Incoming, provider: &'static str) -> Response {
    let base = json!({
        "id": answer["id"],
        "object": "chat.completion.chunk",
        "created": answer["created"],
        "model": answer["model"],
    });
    let chunk = |choices: Value| {
        let mut c = base.clone();
        c["choices"] = choices;
        c
    };
    let mut out = Vec::new();
    for choice in answer["choices"].as_array().into_iter().flatten() {
        let index = &choice["index"];
        let message = &choice["message"];
        out.push(chunk(json!([{"index": index, "delta": {"role": "assistant", "content": message["content"]}, "finish_reason": null}])));
        if let Some(calls) = message["tool_calls"].as_array() {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"index": i, "id": c["id"], "type": "function", "function": c["function"]}))
                .collect();
            out.push(chunk(
                json!([{"index": index, "delta": {"tool_calls": calls}, "finish_reason": null}]),
            ));
        }
        out.push(chunk(
            json!([{"index": index, "delta": {}, "finish_reason": choice["finish_reason"]}]),
        ));
    }
    if body.wants_usage() {
        let mut c = chunk(json!([]));
        c["usage"] = answer["usage"].clone();
        out.push(c);
    }
    let chunks: Vec<Result<Bytes, Infallible>> = out
        .iter()
        .map(|c| Ok(sse_bytes(&c.to_string())))
        .chain([Ok(sse_bytes("[DONE]"))])
        .collect();
    sse_response(futures::stream::iter(chunks), provider, "HIT")
}
