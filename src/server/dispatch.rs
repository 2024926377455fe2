//! The service the server runs: `POST /v1/chat/completions`, the hot path, goes straight to
//! its handler; every other request goes through the router and its layers. The router's
//! two levels of route futures, response mapping and tower layers cost about a tenth of a
//! proxied request's instructions; the chat route gets the same request id, tracing span and
//! 5xx log here, and reads its body under its own limit.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use futures::future::{BoxFuture, Either};
use tower::Service;
use tracing::Instrument;

use super::request_id;
use crate::proxy::Proxy;
use crate::telemetry::request_span;

#[derive(Clone)]
pub struct Dispatch {
    proxy: std::sync::Arc<Proxy>,
    router: Router,
}

impl Dispatch {
    pub fn new(proxy: std::sync::Arc<Proxy>, router: Router) -> Self {
        Self { proxy, router }
    }
}

type RouterFuture = <Router as Service<Request>>::Future;

impl Service<Request> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, RouterFuture>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both the handler and the router are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if request.method() != Method::POST || request.uri().path() != "/v1/chat/completions" {
            return Either::Right(self.router.call(request));
        }
        let id = request_id::ensure(&mut request);
        let span = request_span(&request);
        let proxy = self.proxy.clone();
        let started = std::time::Instant::now();
        Either::Left(Box::pin(
            async move {
                let mut response =
                    crate::proxy::chat_completions(State(proxy), request, started).await;
                // As the router's trace layer does for every other route.
                if response.status().is_server_error() {
                    tracing::error!(
                        status = response.status().as_u16(),
                        latency_ms = started.elapsed().as_millis() as u64,
                        "response failed"
                    );
                }
                request_id::echo(&mut response, id);
                Ok(response)
            }
            .instrument(span),
        ))
    }
}
