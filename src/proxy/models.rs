//! `GET /v1/models` (what this key may call under its rules and its project's mode and
//! provider keys) and `POST /v1/embeddings`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::catalog::{ModelEntry, ModelKind};
use super::error::ProxyError;
use super::meter::Meter;
use super::providers::{adapter, Incoming};
use super::request::{authenticate, json_body, read_body, request_id};
use super::route::{plan, resolve};
use super::state::KeyEntry;
use super::{access, pricing, Proxy};

fn usable(proxy: &Proxy, key: &KeyEntry, model: &Arc<ModelEntry>) -> Option<&'static str> {
    let project = proxy.state.project(&key.project_id)?;
    let plan = plan(
        &proxy.settings,
        &proxy.state,
        key,
        &project,
        model,
        &model.providers,
    )
    .ok()?;
    Some(plan.primary.offer.provider.id())
}

fn entry(model: &ModelEntry, provider: &str) -> Value {
    json!({"id": model.id, "object": "model", "created": 0, "owned_by": provider})
}

pub async fn list(State(proxy): State<Arc<Proxy>>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let key = match authenticate(&proxy, &headers) {
        Ok(k) => k,
        Err(e) => return access::refused("models", "GET", "/v1/models", &headers, started, e),
    };
    let data: Vec<Value> = proxy
        .catalog
        .entries()
        .filter_map(|m| usable(&proxy, &key, m).map(|p| entry(m, p)))
        .collect();
    access::answered(
        "models",
        "GET",
        "/v1/models",
        &headers,
        started,
        200,
        &key.key_id,
        "",
    );
    Json(json!({"object": "list", "data": data})).into_response()
}

pub async fn get(
    State(proxy): State<Arc<Proxy>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    let started = Instant::now();
    let key = match authenticate(&proxy, &headers) {
        Ok(k) => k,
        Err(e) => return access::refused("models", "GET", uri.path(), &headers, started, e),
    };
    let found = resolve(&proxy.catalog, &id).and_then(|(model, _)| {
        let provider =
            usable(&proxy, &key, &model).ok_or_else(|| ProxyError::ModelNotFound(id.clone()))?;
        Ok(entry(&model, provider))
    });
    let (status, response) = match found {
        Ok(entry) => (200, Json(entry).into_response()),
        Err(e) => (e.status().as_u16(), e.into_response()),
    };
    let path = uri.path();
    access::answered(
        "models",
        "GET",
        path,
        &headers,
        started,
        status,
        &key.key_id,
        &id,
    );
    response
}

pub async fn embeddings(
    State(proxy): State<Arc<Proxy>>,
    request: axum::extract::Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let key = match authenticate(&proxy, &headers) {
        Ok(k) => k,
        Err(e) => {
            let path = access::path_of("embeddings");
            return access::refused("embeddings", "POST", path, &headers, started, e);
        }
    };
    let mut meter = Meter::new(
        proxy.state.clone(),
        proxy.usage.recorder(),
        &key,
        &request_id(&headers),
        "embeddings",
        proxy.settings.credits_fee_percent,
        started,
    );
    let body = match read_body(body, proxy.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            meter.finish(e.status().as_u16(), Some(&e)).await;
            return e.into_response();
        }
    };
    let response = match embed(&proxy, &key, &headers, &body, &mut meter).await {
        Ok(response) => {
            meter.finish(200, None).await;
            response
        }
        Err(e) => {
            meter.finish(e.status().as_u16(), Some(&e)).await;
            e.into_response()
        }
    };
    super::chat::with_rate_headers(&proxy, &key, response)
}

/// The most `dimensions` an embeddings request may ask for (the largest models give 4,096).
const MAX_DIMENSIONS: u64 = 65_536;

async fn embed(
    proxy: &Proxy,
    key: &KeyEntry,
    headers: &HeaderMap,
    raw: &axum::body::Bytes,
    meter: &mut Meter,
) -> Result<Response, ProxyError> {
    let body = json_body(headers, raw)?;
    let requested = body["model"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ProxyError::invalid("model", "model is required"))?;
    if !(body["input"].is_string() || body["input"].as_array().is_some_and(|a| !a.is_empty())) {
        return Err(ProxyError::invalid(
            "input",
            "input must be a string or a non-empty array",
        ));
    }
    // Cheap on a tree already built; providers bound it per model, this only keeps the
    // value sane (a positive integer up to `MAX_DIMENSIONS`).
    let dimensions = &body["dimensions"];
    if !(dimensions.is_null() || dimensions.as_u64().is_some_and(|d| d > 0)) {
        return Err(ProxyError::invalid(
            "dimensions",
            "dimensions must be a positive integer",
        ));
    }
    if dimensions.as_u64().is_some_and(|d| d > MAX_DIMENSIONS) {
        return Err(super::chat_request::above_maximum(
            "dimensions",
            MAX_DIMENSIONS,
        ));
    }
    meter.record.requested_model = requested.to_string();
    let project = proxy
        .state
        .project(&key.project_id)
        .ok_or(ProxyError::InvalidApiKey)?;
    let (model, offers) = resolve(&proxy.catalog, requested)?;
    if model.kind != ModelKind::Embedding {
        return Err(ProxyError::invalid(
            "model",
            format!("'{}' is not an embedding model", model.id),
        ));
    }
    let plan = plan(
        &proxy.settings,
        &proxy.state,
        key,
        &project,
        &model,
        &offers,
    )?;
    let route = plan.primary;
    meter.route(&route);
    let prompt = pricing::input_bound(&body);
    meter.reserve(key, &project, &route, prompt, 0).await?;
    let (answer, mut usage) = adapter(route.offer.provider)
        .embed(
            &proxy.http,
            &route.target,
            &Incoming::parsed(raw.clone(), body),
        )
        .await?;
    let estimated = usage.prompt_tokens == 0;
    if estimated {
        usage.prompt_tokens = prompt;
    }
    let cost = meter.charge(&route, usage, estimated);
    let mut response = Response::new(axum::body::Body::from(answer));
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(route.offer.provider.id()) {
        h.insert(super::headers::PROVIDER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&pricing::usd(cost)) {
        h.insert(super::headers::COST_USD, v);
    }
    Ok(response)
}
