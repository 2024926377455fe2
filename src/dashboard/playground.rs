//! The playground: chat with a project's models (one, or two side by side), streamed. Its
//! requests take the proxy's own path (routing, mode, cache, limits, usage) with a key of the
//! project's made for the member ("Playground: <member>"), whose token the dashboard holds in
//! memory only: the member never pastes a key, and the usage log names the key, hence them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{render, Layout};
use super::session::{self, Session};
use super::view::text;
use super::{assets, Dash};

#[derive(Template)]
#[template(path = "playground.html")]
struct Playground {
    l: Layout,
    projects: Vec<(String, String)>,
    selected: String,
    js: String,
}

#[derive(Deserialize, Default)]
pub struct Pick {
    #[serde(default)]
    project: String,
}

/// The projects the member can see: their organization's, or every organization's for the
/// admin.
async fn projects(dash: &Dash, s: &Session) -> Vec<(String, String)> {
    let orgs = match &s.organization_id {
        Some(o) => vec![o.clone()],
        None => {
            let r = dash
                .api
                .get(&s.token, "/api/organizations", &s.request_id)
                .await;
            let orgs = r.body["organizations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            orgs.iter().map(|o| text(o, "id")).collect()
        }
    };
    let mut out = Vec::new();
    for org in orgs {
        let path = format!("/api/organizations/{org}/projects");
        let r = dash.api.get(&s.token, &path, &s.request_id).await;
        for p in r.body.as_array().into_iter().flatten() {
            out.push((text(p, "id"), text(p, "name")));
        }
    }
    out
}

/// `GET /playground`.
pub async fn page(
    State(dash): State<Dash>,
    session: Session,
    Query(pick): Query<Pick>,
) -> Response {
    let projects = projects(&dash, &session).await;
    render(&Playground {
        l: Layout::of(&dash, &session, "Playground"),
        selected: pick.project,
        projects,
        js: assets::url("playground.js"),
    })
}

/// The member's playground key's token for `project`: held, or made now (a key created, or
/// the member's earlier playground key rotated, since its token is not kept anywhere).
async fn token(dash: &Dash, s: &Session, project: &str) -> Result<String, String> {
    let slot = (s.id.clone(), project.to_string());
    if let Some(t) = dash.playground.get(&slot) {
        return Ok(t.clone());
    }
    let name = format!("Playground: {}", s.name());
    let keys = dash
        .api
        .get(
            &s.token,
            &format!("/api/projects/{project}/keys"),
            &s.request_id,
        )
        .await;
    if !keys.ok() {
        return Err(keys.message());
    }
    let mine = keys.body.as_array().into_iter().flatten().find(|k| {
        k["description"] == name.as_str()
            && k["created_by"] == s.id.as_str()
            && k["status"] == "active"
    });
    let reply = match mine {
        Some(k) => {
            let path = format!("/api/keys/{}/rotate", text(k, "id"));
            let body = json!({"grace_seconds": 0});
            dash.api
                .call(&s.token, Method::POST, &path, Some(&body), &s.request_id)
                .await
        }
        None => {
            let path = format!("/api/projects/{project}/keys");
            let body = json!({"description": name});
            dash.api
                .call(&s.token, Method::POST, &path, Some(&body), &s.request_id)
                .await
        }
    };
    let token = reply.body["token"]
        .as_str()
        .ok_or_else(|| reply.message())?
        .to_string();
    dash.playground.insert(slot, token.clone());
    Ok(token)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

/// `GET /playground/models/{project}`: what the project's playground key may call.
pub async fn models(
    State(dash): State<Dash>,
    session: Session,
    Path(project): Path<String>,
) -> Response {
    let token = match token(&dash, &session, &project).await {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let r = dash
        .api
        .get(&token, "/v1/models", &session.request_id)
        .await;
    (r.status, Json(r.body)).into_response()
}

#[derive(Deserialize)]
pub struct ChatAsk {
    project: String,
    model: String,
    #[serde(default)]
    system: String,
    temperature: Option<f64>,
    max_tokens: Option<u64>,
    messages: Vec<Value>,
}

/// `POST /playground/chat` (JSON, with the CSRF token in `x-csrf-token`): the proxy's
/// streamed answer, passed on as it comes.
pub async fn chat(
    State(dash): State<Dash>,
    session: Session,
    headers: HeaderMap,
    Json(ask): Json<ChatAsk>,
) -> Response {
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if session::forged(&headers, &session, csrf) {
        return session::refused();
    }
    let mut messages = Vec::new();
    if !ask.system.trim().is_empty() {
        messages.push(json!({"role": "system", "content": ask.system}));
    }
    messages.extend(ask.messages);
    let mut body = json!({"model": ask.model, "messages": messages, "stream": true,
                          "stream_options": {"include_usage": true}});
    if let Some(t) = ask.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = ask.max_tokens {
        body["max_tokens"] = json!(m);
    }
    for _ in 0..2 {
        let token = match token(&dash, &session, &ask.project).await {
            Ok(t) => t,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e),
        };
        let response = dash
            .api
            .send(
                &token,
                Method::POST,
                "/v1/chat/completions",
                Some(&body),
                &session.request_id,
            )
            .await;
        // The key was deleted or rotated elsewhere: make it again, once.
        if response.status() == StatusCode::UNAUTHORIZED {
            dash.playground
                .remove(&(session.id.clone(), ask.project.clone()));
            continue;
        }
        return response;
    }
    error(
        StatusCode::UNAUTHORIZED,
        "the playground key could not be used",
    )
}

/// `GET /playground/usage/{project}/{request_id}`: the record of one answer, or `null` until
/// the usage writer has it (a moment after the stream ends).
pub async fn usage(
    State(dash): State<Dash>,
    session: Session,
    Path((project, request_id)): Path<(String, String)>,
) -> Response {
    let path = format!("/api/projects/{project}/usage-logs?limit=50");
    let r = dash
        .api
        .get(&session.token, &path, &session.request_id)
        .await;
    let found = r.body["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["request_id"] == request_id.as_str() && l["status"] == 200)
        .cloned();
    Json(found).into_response()
}
