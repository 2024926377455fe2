//! A project's page: its settings, API keys, provider keys, and the forms that change them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::layout::{act, act_then, flash_to, outcome, render, status_change, Layout};
use super::session::{Posted, Session};
use super::view::{text, usd, Row};
use super::Dash;

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    l: Layout,
    id: String,
    org: String,
    name: String,
    description: String,
    mode: String,
    caching: bool,
    ttl: String,
    spend: String,
    period: String,
    period_limit: String,
    period_spend: String,
    rpm: String,
    tpm: String,
    keys: Vec<Row>,
    provider_keys: Vec<Row>,
    manages: bool,
    /// May delete the project (owners and the gateway admin).
    owns: bool,
    providers: &'static [&'static str],
}

const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "mistral",
    "groq",
    "deepseek",
    "xai",
    "together",
    "openrouter",
    "custom",
];

/// `GET /projects/{id}`.
pub async fn page(State(dash): State<Dash>, session: Session, Path(id): Path<String>) -> Response {
    let (t, rid) = (&session.token, &session.request_id);
    let p = dash.api.get(t, &format!("/api/projects/{id}"), rid).await;
    if !p.ok() {
        return super::layout::not_found(&dash, &session, &p.message());
    }
    let keys = dash
        .api
        .get(t, &format!("/api/projects/{id}/keys"), rid)
        .await;
    let pks = dash
        .api
        .get(t, &format!("/api/projects/{id}/provider-keys"), rid)
        .await;
    let keys = keys
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| Row {
            id: text(k, "id"),
            cells: vec![
                match text(k, "description") {
                    d if d.is_empty() => format!("{}…", text(k, "prefix")),
                    d => d,
                },
                text(k, "status"),
                usd(&k["usage_limit_usd"]),
                usd(&k["spend_usd"]),
                text(k, "prefix"),
            ],
        })
        .collect();
    let provider_keys = pks
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| Row {
            id: text(k, "id"),
            cells: vec![
                text(k, "provider"),
                text(k, "masked_key"),
                text(k, "status"),
                text(k, "base_url"),
            ],
        })
        .collect();
    let b = &p.body;
    render(&ProjectPage {
        l: Layout::of(&dash, &session, &text(b, "name")),
        org: text(b, "organization_id"),
        name: text(b, "name"),
        description: text(b, "description"),
        mode: text(b, "mode"),
        caching: b["caching_enabled"].as_bool().unwrap_or(false),
        ttl: text(b, "cache_duration_seconds"),
        spend: usd(&b["spend_usd"]),
        period: text(b, "period"),
        period_limit: text(b, "period_limit_usd"),
        period_spend: usd(&b["period_spend_usd"]),
        rpm: text(&b["rate_limits"], "requests_per_minute"),
        tpm: text(&b["rate_limits"], "tokens_per_minute"),
        keys,
        provider_keys,
        manages: session.manages() || session.is_admin(),
        owns: session.role == "owner" || session.is_admin(),
        providers: PROVIDERS,
        id,
    })
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    description: String,
    mode: String,
    caching: Option<String>,
    cache_duration_seconds: i64,
    #[serde(default)]
    period: String,
    #[serde(default)]
    period_limit_usd: String,
    #[serde(default)]
    requests_per_minute: String,
    #[serde(default)]
    tokens_per_minute: String,
}

/// `POST /projects/{id}`: the settings form.
pub async fn update(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<SettingsForm>,
) -> Response {
    let mut body = super::keys::limits_body(
        "",
        &form.period,
        &form.period_limit_usd,
        &form.requests_per_minute,
        &form.tokens_per_minute,
    );
    if let Some(o) = body.as_object_mut() {
        // A project has budgets per period, not a lifetime limit.
        o.remove("usage_limit_usd");
    }
    body["description"] = json!(form.description);
    body["mode"] = json!(form.mode);
    body["caching_enabled"] = json!(form.caching.is_some());
    body["cache_duration_seconds"] = json!(form.cache_duration_seconds);
    let path = format!("/api/projects/{id}");
    let to = format!("/projects/{id}");
    act_then(
        &dash,
        &session,
        (Method::PATCH, &path),
        Some(&body),
        "Settings saved.",
        &to,
    )
    .await
}

#[derive(Deserialize)]
pub struct OrgForm {
    organization_id: String,
}

/// `POST /projects/{id}/delete`.
pub async fn delete(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<OrgForm>,
) -> Response {
    let r = act(
        &dash,
        &session,
        Method::DELETE,
        &format!("/api/projects/{id}"),
        None,
    )
    .await;
    let to = match r.ok() {
        true => format!("/organizations/{}", form.organization_id),
        false => format!("/projects/{id}"),
    };
    flash_to(&dash, &session, outcome(&r, "Project deleted."), &to)
}

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    description: String,
    /// Empty: no limit.
    #[serde(default)]
    usage_limit_usd: String,
}

/// `POST /projects/{id}/keys`: the token is shown once.
pub async fn create_key(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<KeyForm>,
) -> Response {
    let limit = form.usage_limit_usd.trim().parse::<f64>().ok();
    let body = json!({"description": form.description, "usage_limit_usd": limit});
    let path = format!("/api/projects/{id}/keys");
    let done = "API key created. Copy its token now:";
    let to = format!("/projects/{id}");
    act_then(
        &dash,
        &session,
        (Method::POST, &path),
        Some(&body),
        done,
        &to,
    )
    .await
}

#[derive(Deserialize)]
pub struct ProviderKeyForm {
    provider: String,
    api_key: String,
    #[serde(default)]
    base_url: String,
}

/// `POST /projects/{id}/provider-keys`.
pub async fn add_provider_key(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<ProviderKeyForm>,
) -> Response {
    let base_url = Some(form.base_url.trim()).filter(|u| !u.is_empty());
    let body = json!({"provider": form.provider, "api_key": form.api_key, "base_url": base_url});
    let path = format!("/api/projects/{id}/provider-keys");
    let to = format!("/projects/{id}");
    act_then(
        &dash,
        &session,
        (Method::POST, &path),
        Some(&body),
        "Provider key added.",
        &to,
    )
    .await
}

#[derive(Deserialize)]
pub struct BackForm {
    project_id: String,
}

/// `POST /provider-keys/{id}/{disable|enable|delete}`.
pub async fn provider_key_action(
    State(dash): State<Dash>,
    Path((id, action)): Path<(String, String)>,
    Posted(session, form): Posted<BackForm>,
) -> Response {
    let path = format!("/api/provider-keys/{id}");
    let (method, body) = status_change(&action);
    let back = format!("/projects/{}", form.project_id);
    act_then(
        &dash,
        &session,
        (method, &path),
        body.as_ref(),
        "Provider key updated.",
        &back,
    )
    .await
}
