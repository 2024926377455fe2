//! Sending a chat request upstream: one route with its retries (`fallback::retry_delay`), then
//! the other models the request lists, each routed, IAM-checked and held anew. Every failed
//! attempt is in the usage log.

use axum::body::Bytes;

use super::catalog::ModelKind;
use super::chat_request::ChatRequest;
use super::error::ProxyError;
use super::fallback;
use super::meter::Meter;
use super::providers::{adapter, ChunkStream, Incoming, Usage};
use super::route::{plan, resolve, Route};
use super::state::{KeyEntry, ProjectEntry};
use super::{pricing, Proxy};

pub(super) enum Answer {
    Complete(Bytes, Usage),
    Stream(ChunkStream),
}

/// What every attempt of one request is made with.
#[derive(Clone, Copy)]
pub(super) struct Ask<'a> {
    pub key: &'a KeyEntry,
    pub project: &'a ProjectEntry,
    pub request: &'a ChatRequest,
    pub prompt: u64,
    pub max_output: u64,
}

impl Ask<'_> {
    fn body(&self) -> &Incoming {
        &self.request.body
    }
}

/// One call of `route`.
pub(super) async fn attempt(
    proxy: &Proxy,
    route: &Route,
    request: &Incoming,
    streaming: bool,
    meter: &mut Meter,
) -> Result<Answer, ProxyError> {
    let provider = adapter(route.offer.provider);
    let http = &proxy.http;
    let started = std::time::Instant::now();
    let answer = if streaming {
        provider
            .complete_stream(http, &route.target, request)
            .await
            .map(Answer::Stream)
    } else {
        provider
            .complete(http, &route.target, request)
            .await
            .map(|(answer, usage)| Answer::Complete(answer, usage))
    };
    meter.upstream += started.elapsed();
    answer
}

/// `route`, tried again after a wait while its failure is one a retry may fix.
pub(super) async fn with_retries(
    proxy: &Proxy,
    route: &Route,
    ask: Ask<'_>,
    meter: &mut Meter,
) -> Result<Answer, ProxyError> {
    let streaming = ask.request.streaming();
    let mut done = 0;
    loop {
        let result = attempt(proxy, route, ask.body(), streaming, meter).await;
        let Err(e) = &result else { return result };
        let Some(wait) = fallback::retry_delay(e, done, proxy.settings.max_retries) else {
            return result;
        };
        tracing::warn!(provider = %route.offer.provider, error = %e, wait_ms = wait.as_millis() as u64, "retrying the provider");
        // Boxed, like every step only a failure takes: it would otherwise widen the future
        // of every request, which is moved whole (a copy of its every byte) as it is boxed.
        Box::pin(meter.record_attempt(e)).await;
        tokio::time::sleep(wait).await;
        meter
            .reserve(ask.key, ask.project, route, ask.prompt, ask.max_output)
            .await?;
        done += 1;
    }
}

/// While `result` is a failure a fallback may fix, the next of `models`; `route` ends as the
/// one that gave the result.
pub(super) async fn other_models(
    proxy: &Proxy,
    models: Vec<String>,
    mut result: Result<Answer, ProxyError>,
    route: &mut Route,
    ask: Ask<'_>,
    meter: &mut Meter,
) -> Result<Answer, ProxyError> {
    for model in models {
        let Err(e) = &result else { break };
        if !e.allows_fallback() {
            break;
        }
        let (next, max_output) = match candidate(proxy, ask, &model) {
            Ok(c) => c,
            Err(refused) => {
                // Not a model this key may use here: the next one.
                tracing::info!(model, error = %refused, "fallback model skipped");
                continue;
            }
        };
        tracing::warn!(from = %route.model.id, to = model, error = %e, "falling back to the next model");
        Box::pin(meter.record_attempt(e)).await;
        *route = next;
        meter.route(route);
        let ask = Ask { max_output, ..ask };
        meter
            .reserve(ask.key, ask.project, route, ask.prompt, max_output)
            .await?;
        result = with_retries(proxy, route, ask, meter).await;
    }
    result
}

/// The route of another model for this request, and its output bound.
fn candidate(proxy: &Proxy, ask: Ask<'_>, model: &str) -> Result<(Route, u64), ProxyError> {
    let (entry, offers) = resolve(&proxy.catalog, model)?;
    if entry.kind != ModelKind::Chat {
        return Err(ProxyError::invalid(
            "models",
            format!("'{model}' is not a chat model"),
        ));
    }
    let planned = plan(
        &proxy.settings,
        &proxy.state,
        ask.key,
        ask.project,
        &entry,
        &offers,
    )?;
    let max_output = pricing::max_output_tokens(ask.request.max_output, ask.request.n, &entry);
    Ok((planned.primary, max_output))
}
