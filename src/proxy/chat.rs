//! `POST /v1/chat/completions`: authenticate, validate, route, serve from cache or forward,
//! meter. Streaming answers are handled in `stream`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::attempts::{other_models, with_retries, Answer, Ask};
use super::cache::CachedAnswer;
use super::cache_control::{self, Policy};
use super::catalog::ModelKind;
use super::chat_request::ChatRequest;
use super::error::ProxyError;
use super::meter::Meter;
use super::providers::{adapter, native_answer, native_as_chat, Incoming, Native, NativeAnswer};
use super::providers::{Protocol, Usage};
use super::request::{caller, read_body, request_id};
use super::route::{plan, resolve, Plan, Route};
use super::state::{KeyEntry, ProjectEntry};
use super::{access, cache_key, pricing, stream, Proxy};

/// The route's handler as the router calls it (the server calls [`completions_at`]).
pub async fn completions(state: State<Arc<Proxy>>, request: axum::extract::Request) -> Response {
    completions_at(state, request, std::time::Instant::now()).await
}

/// The request, received at `started`.
pub async fn completions_at(
    State(proxy): State<Arc<Proxy>>,
    request: axum::extract::Request,
    started: std::time::Instant,
) -> Response {
    serve(proxy, request, started, "chat", |body| Ok((body, None))).await
}

/// Turns a protocol's request body into a chat request's, with the client's own body when it
/// may pass through to a provider that speaks the protocol.
pub(super) type ToChat = fn(Bytes) -> Result<(Bytes, Option<Native>), ProxyError>;

/// The whole gateway job for a chat request: authenticate, meter, route, cache or forward.
/// Other protocols (`inbound`) come in through here with `to_chat`, which turns their body
/// into a chat request's; `endpoint` names them in metrics and the usage log. The answer is
/// a chat completion's (or OpenAI's error), for the protocol to turn back into its own.
pub(super) async fn serve(
    proxy: Arc<Proxy>,
    request: axum::extract::Request,
    started: std::time::Instant,
    endpoint: &'static str,
    to_chat: ToChat,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let (key, project) = match caller(&proxy, &headers) {
        Ok(found) => found,
        Err(e) => {
            let path = access::path_of(endpoint);
            return access::refused(endpoint, "POST", path, &headers, started, e);
        }
    };
    let mut meter = Meter::new(
        proxy.state.clone(),
        proxy.usage.recorder(),
        &key,
        &request_id(&headers),
        endpoint,
        proxy.settings.credits_fee_percent,
        started,
    );
    let (body, native) = match read_body(body, proxy.settings.max_body_bytes)
        .await
        .and_then(to_chat)
    {
        Ok(read) => read,
        Err(e) => {
            meter.finish(e.status().as_u16(), Some(&e)).await;
            return with_rate_headers(&proxy, &key, e.into_response());
        }
    };
    let caller = (&*key, &*project);
    let response = match handle(&proxy, caller, &headers, &body, native, &mut meter).await {
        Ok(Outcome::Done(response)) => {
            meter.finish(200, None).await;
            response
        }
        // The stream's task owns the meter from here on.
        Ok(Outcome::Stream(s)) => stream::forward(proxy.clone(), *s, meter),
        Err(e) => {
            meter.finish(e.status().as_u16(), Some(&e)).await;
            e.into_response()
        }
    };
    with_rate_headers(&proxy, &key, response)
}

/// Every answer to a key with rate limits (its own, or its project's) says where it stands.
pub(super) fn with_rate_headers(proxy: &Proxy, key: &KeyEntry, mut response: Response) -> Response {
    let now = proxy.state.clock.now();
    super::budgets::rate_headers(&proxy.state, key, now, response.headers_mut());
    response
}

enum Outcome {
    Done(Response),
    Stream(Box<stream::Upstream>),
}

async fn handle(
    proxy: &Proxy,
    (key, project): (&KeyEntry, &ProjectEntry),
    headers: &HeaderMap,
    raw: &Bytes,
    native: Option<Native>,
    meter: &mut Meter,
) -> Result<Outcome, ProxyError> {
    let (raw, models) = super::fallback::split_models(raw)?;
    let mut request = ChatRequest::read(headers, &raw)?;
    request.body.native = native.map(Box::new);
    let requested = &request.body.model;
    let streaming = request.streaming();
    meter.record.requested_model.clone_from(requested);
    meter.record.streamed = streaming;
    let (model, offers) = resolve(&proxy.catalog, requested)?;
    // A request's own `models` win; else the project's chain for the model asked for.
    let models = match models.is_empty() {
        true => super::fallback::project_chain(&project.fallbacks, requested, &model.id),
        false => models,
    };
    if model.kind != ModelKind::Chat {
        return Err(ProxyError::invalid(
            "model",
            format!("'{}' is not a chat model", model.id),
        ));
    }
    // The output asked for fits the model (the request's own reading bounded it already).
    let model_max = match model.max_output_tokens {
        0 => super::chat_request::MAX_OUTPUT_TOKENS,
        max => max,
    };
    if request.max_output.is_some_and(|m| m > model_max) {
        return Err(super::chat_request::above_maximum(
            request.max_output_param,
            model_max,
        ));
    }
    let Plan {
        primary: mut route,
        mut fallback,
    } = plan(&proxy.settings, &proxy.state, key, project, &model, &offers)?;
    meter.route(&route);

    let policy = match project.caching_enabled {
        true => Some(cache_control::policy(headers, project.cache_ttl)?),
        false => None,
    };
    let policy = policy.filter(|p| p.lookup || p.store);
    let cache_key = match &policy {
        Some(p) => Some(cache_key_of(&p.scope(&project.id), &route, &request.body)?),
        None => None,
    };
    let missed = policy.as_ref().map_or("BYPASS", Policy::missed);
    if let (Some(ck), Some(p)) = (&cache_key, policy.as_ref().filter(|p| p.lookup)) {
        if let Some(hit) = cached(proxy, ck, p).await {
            meter.record.cached = true;
            meter.record.paid_with = tollgate_aggregates::usage::PaidWith::None;
            meter.record.prompt_tokens = hit.answer.usage.prompt_tokens;
            meter.record.completion_tokens = hit.answer.usage.completion_tokens;
            let provider = route.offer.provider.id();
            let mut response = if streaming {
                let parsed: Value = serde_json::from_slice(&hit.answer.body).unwrap_or_default();
                // An answer kept in a provider's protocol is replayed as chat chunks, which
                // the route turns into its own events.
                let parsed = match request.body.native.is_some() {
                    true => native_as_chat(&parsed).unwrap_or(parsed),
                    false => parsed,
                };
                stream::replay(&parsed, &request.body, provider)
            } else {
                let native = request
                    .body
                    .native
                    .as_ref()
                    .and_then(|_| kept_as(&hit.answer.body));
                native_mark(respond(hit.answer.body, provider, 0, "HIT"), native)
            };
            response
                .headers_mut()
                .insert(header::AGE, HeaderValue::from(hit.age));
            return Ok(Outcome::Done(response));
        }
    }
    // Where and how long this answer is kept, if it is.
    let store = cache_key
        .zip(policy.as_ref().filter(|p| p.store))
        .map(|(key, p)| (key, p.ttl));

    let extra = request.body.native.as_ref().map_or(0, |n| n.extra_prompt);
    let prompt = request.prompt_bound.saturating_add(extra);
    let max_output = pricing::max_output_tokens(request.max_output, request.n, &model);
    meter
        .reserve(key, project, &route, prompt, max_output)
        .await?;
    let ask = Ask {
        key,
        project,
        request: &request,
        prompt,
        max_output,
    };
    let first = with_retries(proxy, &route, ask, meter).await;
    let result = match first {
        Err(e) if e.allows_fallback() && fallback.is_some() => {
            // Hybrid: the project's own key failed; record that attempt, retry once on credits.
            if let Some(id) = &route.own_key_id {
                proxy
                    .state
                    .failed_keys
                    .insert(id.clone(), std::time::Instant::now());
            }
            tracing::warn!(provider = %route.offer.provider, error = %e, "own provider key failed; retrying on credits");
            // Boxed: only a failure comes here (see `with_retries`).
            Box::pin(meter.record_attempt(&e)).await;
            route = fallback.take().unwrap_or(route);
            meter.route(&route);
            meter
                .reserve(key, project, &route, prompt, max_output)
                .await?;
            with_retries(proxy, &route, ask, meter).await
        }
        other => other,
    };
    let result = match result {
        Err(e) if !models.is_empty() => {
            Box::pin(other_models(proxy, models, Err(e), &mut route, ask, meter)).await
        }
        done => done,
    };
    // The route that answered decides: a fallback may have been another protocol's.
    let native = native_answer(&route.target, &request.body);
    match result? {
        Answer::Complete(answer, usage) => {
            let (usage, estimated) = complete_usage(usage, &request.body, &answer);
            let cost = meter.charge(&route, usage, estimated);
            if let Some((key, ttl)) = store {
                let cached = CachedAnswer {
                    body: answer.clone(),
                    usage,
                    stored_at: proxy.state.clock.now(),
                };
                proxy.cache.put(key, cached, ttl).await;
            }
            let response = respond(answer, route.offer.provider.id(), cost, missed);
            Ok(Outcome::Done(native_mark(response, native)))
        }
        Answer::Stream(chunks) => Ok(Outcome::Stream(Box::new(stream::Upstream {
            chunks,
            route,
            body: request.body,
            cache: store,
            cache_status: missed,
            native,
        }))),
    }
}

/// Marks an answer already in the client's protocol, for its route to pass on.
fn native_mark(mut response: Response, native: Option<Protocol>) -> Response {
    if let Some(p) = native {
        response.extensions_mut().insert(NativeAnswer(p));
    }
    response
}

/// The protocol a kept answer is in, when it is a provider's own (not a chat completion).
fn kept_as(body: &[u8]) -> Option<Protocol> {
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        object: Option<String>,
    }
    let shape: Shape = serde_json::from_slice(body).ok()?;
    match (shape.kind.as_deref(), shape.object.as_deref()) {
        (Some("message"), _) => Some(Protocol::Messages),
        (_, Some("response")) => Some(Protocol::Responses),
        _ => None,
    }
}

/// The provider's usage, or an estimate (flagged) when it reported none.
fn complete_usage(usage: Usage, body: &Incoming, answer: &[u8]) -> (Usage, bool) {
    if usage.prompt_tokens > 0 || usage.completion_tokens > 0 {
        return (usage, false);
    }
    let answer: Value = serde_json::from_slice(answer).unwrap_or_default();
    let text: String = answer["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let m = &c["message"];
            format!(
                "{}{}",
                m["content"].as_str().unwrap_or_default(),
                if m["tool_calls"].is_null() {
                    String::new()
                } else {
                    m["tool_calls"].to_string()
                }
            )
        })
        .collect();
    let estimate = Usage {
        // The text was checked when the request was read; `0` only keeps this total.
        prompt_tokens: body.json().map_or(0, pricing::prompt_tokens),
        completion_tokens: pricing::count_tokens(&text),
        ..Usage::default()
    };
    (estimate, true)
}

struct Hit {
    answer: CachedAnswer,
    /// Seconds since it was stored.
    age: i64,
}

/// The stored answer for `key`, if there is one young enough for the policy's `max-age`.
async fn cached(proxy: &Proxy, key: &str, policy: &Policy) -> Option<Hit> {
    let found = proxy.cache.get(key).await;
    let now = proxy.state.clock.now();
    let hit = found
        .map(|answer| Hit {
            age: now.saturating_sub(answer.stored_at).max(0),
            answer,
        })
        .filter(|h| {
            policy
                .max_age
                .is_none_or(|m| h.age <= i64::try_from(m).unwrap_or(i64::MAX))
        });
    crate::metrics::cache(hit.is_some());
    hit
}

/// The cache key: from the request's tree when the adapter builds one anyway (translation,
/// a rewritten body), so the body is read once; else straight from the bytes.
fn cache_key_of(project: &str, route: &Route, body: &Incoming) -> Result<String, ProxyError> {
    // A body that passes through is what the answer depends on, fields the chat shape has no
    // place for included.
    if let Some(native) = body.native.as_ref() {
        if native_answer(&route.target, body).is_some() {
            let endpoint = native.protocol.name();
            return Ok(cache_key::key_of_tree(project, endpoint, &native.body));
        }
    }
    let tree = match adapter(route.offer.provider).reads_the_tree(&route.target, body) {
        true => Some(body.json()?),
        false => body.built_tree(),
    };
    match tree {
        Some(tree) => Ok(cache_key::key_of_tree(project, "chat", tree)),
        None => {
            cache_key::key(project, "chat", &body.raw).map_err(|e| ProxyError::malformed_json(&e))
        }
    }
}

fn respond(answer: Bytes, provider: &'static str, cost_nano: i64, cache: &'static str) -> Response {
    let mut response = Response::new(Body::from(answer));
    // Room for every header the answer gets, rate limits' included: the map is not grown.
    *response.headers_mut() = HeaderMap::with_capacity(super::headers::ANSWER_CAPACITY);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(super::headers::CACHE, HeaderValue::from_static(cache));
    // A provider's id is static text (`Provider::id`): no copy.
    h.insert(super::headers::PROVIDER, HeaderValue::from_static(provider));
    if let Ok(v) = HeaderValue::from_str(&pricing::usd(cost_nano)) {
        h.insert(super::headers::COST_USD, v);
    }
    response
}
