//! Request ids: the client's `x-request-id`, or a new one, set on the request (where the
//! audit trail and usage records read it) and echoed on the response. Cheaper than
//! tower-http's pair of layers, which drew a UUID from a cryptographic generator and kept
//! the id in the request's extensions (a map allocated per request) besides its header.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestId(inner)
    }
}

#[derive(Clone)]
pub struct RequestId<S>(S);

impl<S, B, R> Service<Request<B>> for RequestId<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = WithId<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = ensure(&mut request);
        WithId {
            inner: Box::pin(self.0.call(request)),
            id: Some(id),
        }
    }
}

/// The longest client id kept: ids are stored in the event log and the usage log.
const MAX_LEN: usize = 128;

/// The request's id: the client's if it is 1 to 128 visible ASCII characters, or else a
/// new one, set on the request in its place (that is the one recorded and echoed).
pub fn ensure<B>(request: &mut Request<B>) -> HeaderValue {
    match request.headers().get(X_REQUEST_ID) {
        Some(id) if acceptable(id.as_bytes()) => id.clone(),
        _ => {
            let id = new_id();
            request.headers_mut().insert(X_REQUEST_ID, id.clone());
            id
        }
    }
}

/// Printable ASCII, no spaces or controls: safe in logs, headers and the stores.
fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Echoes the request's id on its response, unless the response names one.
pub fn echo<R>(response: &mut Response<R>, id: HeaderValue) {
    response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
}

/// The inner service's response, with the request's id.
pub struct WithId<F> {
    // Boxed rather than pin-projected: one small allocation, no unsafe code.
    inner: Pin<Box<F>>,
    id: Option<HeaderValue>,
}

impl<F, R, E> Future for WithId<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut result = ready!(self.inner.as_mut().poll(cx));
        if let (Ok(response), Some(id)) = (&mut result, self.id.take()) {
            echo(response, id);
        }
        Poll::Ready(result)
    }
}

thread_local! {
    /// A random start per thread, then a counter: ids are unique without a system call or a
    /// cryptographic generator per request (a request id is not a secret). The counter starts
    /// at a random point too, so threads and processes do not share a sequence.
    static NEXT: Cell<(u64, u64)> = Cell::new({
        let (start, counter) = uuid::Uuid::new_v4().as_u64_pair();
        (start, counter & (u64::MAX >> 2))
    });
}

/// A new id in UUID version 4 form: the counter (plus the thread's random start) in the low
/// 62 bits, which the version and variant bits leave alone, so ids are distinct for 2^62 per
/// thread; the high half mixes the counter in, so ids do not look sequential.
fn new_id() -> HeaderValue {
    let (high, low) = NEXT.with(|n| {
        let (start, counter) = n.get();
        n.set((start, counter.wrapping_add(1)));
        (start ^ mix(counter), counter)
    });
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        let keep = |id: &[u8]| {
            let mut request = Request::new(());
            let value = HeaderValue::from_bytes(id).unwrap();
            request.headers_mut().insert(X_REQUEST_ID, value.clone());
            let got = ensure(&mut request);
            assert_eq!(request.headers()[X_REQUEST_ID], got);
            got == value
        };
        assert!(keep(b"client-req-7"));
        assert!(keep("~".repeat(128).as_bytes()));
        assert!(!keep("a".repeat(129).as_bytes()));
        assert!(!keep(b"has space"));
        assert!(!keep(b"tab\there"));
        assert!(!keep("caf\u{e9}".as_bytes()));
        assert!(!keep(b""));
    }

    #[test]
    fn ids_are_uuids_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| new_id().to_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4, "{id}");
        }
    }
}
