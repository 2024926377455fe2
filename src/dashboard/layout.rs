//! What every page shares: the frame (navigation, who is signed in, the sign-out form, the
//! one-time message), rendering, sign-in and sign-out, and the API reference page.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::session::{self, Posted, Session};
use super::{assets, Dash};

/// A message shown once, on the next page the session opens.
#[derive(Clone, Debug)]
pub struct Flash {
    pub error: bool,
    pub text: String,
    /// A token to show once, with a copy button.
    pub secret: Option<String>,
}

/// The frame's data.
pub struct Layout {
    pub title: String,
    pub signed_in: bool,
    pub who: String,
    pub role: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub css: String,
    pub js: String,
    /// The signed-in member's organization (the admin has none).
    pub home: String,
}

impl Layout {
    /// The frame for `session`, taking its one-time message.
    pub fn of(dash: &Dash, session: &Session, title: &str) -> Self {
        let home = session
            .organization_id
            .as_ref()
            .map_or_else(|| "/".to_string(), |o| format!("/organizations/{o}"));
        Self {
            title: title.to_string(),
            signed_in: true,
            who: session.name().to_string(),
            role: session.role.clone(),
            csrf: session.csrf(),
            flash: dash.flash.remove(&session.nonce).map(|(_, f)| f),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            home,
        }
    }

    fn signed_out(title: &str) -> Self {
        Self {
            title: title.to_string(),
            signed_in: false,
            who: String::new(),
            role: String::new(),
            csrf: String::new(),
            flash: None,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            home: "/".into(),
        }
    }
}

/// A page rendered, or a 500 that says why.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Leaves a message for the session's next page, then goes to `to`.
pub fn flash_to(dash: &Dash, session: &Session, flash: Flash, to: &str) -> Response {
    dash.flash.insert(session.nonce.clone(), flash);
    Redirect::to(to).into_response()
}

/// One API call as the signed-in member.
pub async fn act(
    dash: &Dash,
    s: &Session,
    method: axum::http::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> super::client::Reply {
    dash.api
        .call(&s.token, method, path, body, &s.request_id)
        .await
}

/// A form's action: the call, then its outcome shown once on `to`.
pub async fn act_then(
    dash: &Dash,
    s: &Session,
    (method, path): (axum::http::Method, &str),
    body: Option<&serde_json::Value>,
    done: &str,
    to: &str,
) -> Response {
    let reply = act(dash, s, method, path, body).await;
    flash_to(dash, s, outcome(&reply, done), to)
}

/// What `disable`, `enable` or (anything else) `delete` asks of a key or provider key.
pub fn status_change(action: &str) -> (axum::http::Method, Option<serde_json::Value>) {
    use axum::http::Method;
    match action {
        "disable" => (
            Method::PATCH,
            Some(serde_json::json!({"status": "disabled"})),
        ),
        "enable" => (Method::PATCH, Some(serde_json::json!({"status": "active"}))),
        _ => (Method::DELETE, None),
    }
}

/// The outcome of an API call as a message: its error, or `done` with the token or signing
/// secret the answer carries (a new key's, member's or webhook's), shown that once.
pub fn outcome(reply: &super::client::Reply, done: &str) -> Flash {
    match reply.ok() {
        true => Flash {
            error: false,
            text: done.to_string(),
            secret: reply.body["token"]
                .as_str()
                .or_else(|| reply.body["secret"].as_str())
                .map(str::to_string),
        },
        false => Flash {
            error: true,
            text: reply.message(),
            secret: None,
        },
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    l: Layout,
    error: Option<String>,
}

pub async fn sign_in_page() -> Response {
    render(&SignInPage {
        l: Layout::signed_out("Sign in"),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// `POST /sign-in`: the token is checked by the API itself (`GET /api/me`).
pub async fn sign_in(
    State(dash): State<Dash>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if session::cross_origin(&headers) {
        return session::refused();
    }
    let token = form.token.trim();
    let request_id = uuid::Uuid::new_v4().to_string();
    if token.is_empty() || session::whoami(&dash, token, &request_id).await.is_none() {
        let page = SignInPage {
            l: Layout::signed_out("Sign in"),
            error: Some("That token was not accepted: check it and try again.".into()),
        };
        return (StatusCode::UNAUTHORIZED, render(&page)).into_response();
    }
    let mut response = Redirect::to("/").into_response();
    let cookie = session::cookie_for(&dash, token, &headers);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// A form of no fields but its CSRF token (which `Posted` checks).
#[derive(Deserialize)]
pub struct Empty {}

/// `POST /sign-out`.
pub async fn sign_out(
    State(dash): State<Dash>,
    headers: HeaderMap,
    Posted(session, Empty {}): Posted<Empty>,
) -> Response {
    session::revoke(&dash, &session);
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::cleared(&headers));
    response
}

#[derive(Template)]
#[template(path = "api_reference.html")]
struct ApiReference {
    l: Layout,
    swagger_js: String,
    swagger_css: String,
    init_js: String,
}

/// `GET /api-reference`: the OpenAPI document in Swagger UI.
pub async fn api_reference(State(dash): State<Dash>, session: Session) -> Response {
    render(&ApiReference {
        l: Layout::of(&dash, &session, "API reference"),
        swagger_js: assets::url("swagger-ui.js"),
        swagger_css: assets::url("swagger-ui.css"),
        init_js: assets::url("api-docs.js"),
    })
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    l: Layout,
    message: String,
}

/// A page for something this member cannot see (or that does not exist).
pub fn not_found(dash: &Dash, session: &Session, message: &str) -> Response {
    let page = NotFound {
        l: Layout::of(dash, session, "Not found"),
        message: message.to_string(),
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}
