//! An API key's page: what it is, rotate (with a grace period), disable, delete, and its IAM
//! rules, added and removed one at a time with each type explained.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{act, act_then, flash_to, outcome, render, status_change, Layout};
use super::session::{Posted, Session};
use super::view::{text, usd};
use super::Dash;

pub struct RuleView {
    pub index: usize,
    pub kind: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage {
    l: Layout,
    id: String,
    project: String,
    description: String,
    status: String,
    prefix: String,
    limit: String,
    spend: String,
    expires: String,
    rules: Vec<RuleView>,
    /// The limits form's current values (empty: none).
    usage_limit: String,
    period: String,
    period_limit: String,
    period_spend: String,
    period_resets: String,
    rpm: String,
    tpm: String,
    expires_input: String,
}

/// `GET /keys/{id}`.
pub async fn page(State(dash): State<Dash>, session: Session, Path(id): Path<String>) -> Response {
    let (t, rid) = (&session.token, &session.request_id);
    let k = dash.api.get(t, &format!("/api/keys/{id}"), rid).await;
    if !k.ok() {
        return super::layout::not_found(&dash, &session, &k.message());
    }
    let rules = dash
        .api
        .get(t, &format!("/api/keys/{id}/iam-rules"), rid)
        .await;
    let rules = rules.body["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, r)| {
            let mut detail = r.clone();
            if let Some(o) = detail.as_object_mut() {
                o.remove("type");
            }
            RuleView {
                index,
                kind: text(r, "type"),
                detail: detail.to_string(),
            }
        })
        .collect();
    let b = &k.body;
    render(&KeyPage {
        l: Layout::of(&dash, &session, "API key"),
        project: text(b, "project_id"),
        description: text(b, "description"),
        status: text(b, "status"),
        prefix: text(b, "prefix"),
        limit: usd(&b["usage_limit_usd"]),
        spend: usd(&b["spend_usd"]),
        expires: match text(b, "expires_at") {
            e if e.is_empty() => "never".into(),
            e => e,
        },
        rules,
        usage_limit: text(b, "usage_limit_usd"),
        period: text(b, "period"),
        period_limit: text(b, "period_limit_usd"),
        period_spend: usd(&b["period_spend_usd"]),
        period_resets: text(b, "period_resets_at"),
        rpm: text(&b["rate_limits"], "requests_per_minute"),
        tpm: text(&b["rate_limits"], "tokens_per_minute"),
        // `datetime-local` wants `YYYY-MM-DDTHH:MM:SS` without the zone (the page says UTC).
        expires_input: text(b, "expires_at")
            .trim_end_matches('Z')
            .chars()
            .take(19)
            .collect(),
        id,
    })
}

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    usage_limit_usd: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    period_limit_usd: String,
    #[serde(default)]
    requests_per_minute: String,
    #[serde(default)]
    tokens_per_minute: String,
    #[serde(default)]
    expires_at: String,
}

/// A number field: `null` when empty (which clears the setting), else the number.
fn number(field: &str) -> Value {
    let field = field.trim();
    match field.parse::<f64>() {
        Ok(n) if field.contains('.') => json!(n),
        Ok(_) => field.parse::<i64>().map_or(Value::Null, |n| json!(n)),
        Err(_) => Value::Null,
    }
}

/// The limits form as the API's `PATCH` body (the rate limits' and budgets' shapes).
pub fn limits_body(usage: &str, period: &str, period_limit: &str, rpm: &str, tpm: &str) -> Value {
    let rates = match (number(rpm), number(tpm)) {
        (Value::Null, Value::Null) => Value::Null,
        (r, t) => json!({"requests_per_minute": r, "tokens_per_minute": t}),
    };
    let period_limit = number(period_limit);
    let mut body = json!({"period_limit_usd": period_limit, "rate_limits": rates});
    if !period_limit.is_null() {
        body["period"] = json!(period);
    }
    body["usage_limit_usd"] = number(usage);
    body
}

/// `POST /keys/{id}/limits`: spend limits, period budget, rate limits and expiry.
pub async fn limits(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<LimitsForm>,
) -> Response {
    let mut body = limits_body(
        &form.usage_limit_usd,
        &form.period,
        &form.period_limit_usd,
        &form.requests_per_minute,
        &form.tokens_per_minute,
    );
    let expires = form.expires_at.trim();
    body["expires_at"] = match expires.is_empty() {
        true => Value::Null,
        // A `datetime-local` value, read as UTC.
        false if expires.len() == 16 => json!(format!("{expires}:00Z")),
        false => json!(format!("{expires}Z")),
    };
    let path = format!("/api/keys/{id}");
    let to = format!("/keys/{id}");
    act_then(
        &dash,
        &session,
        (Method::PATCH, &path),
        Some(&body),
        "Limits saved.",
        &to,
    )
    .await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    grace_seconds: Option<i64>,
    #[serde(default)]
    project_id: String,
}

/// `POST /keys/{id}/{rotate|disable|enable|delete}`.
pub async fn action(
    State(dash): State<Dash>,
    Path((id, action)): Path<(String, String)>,
    Posted(session, form): Posted<ActionForm>,
) -> Response {
    let path = format!("/api/keys/{id}");
    let (reply, done) = match action.as_str() {
        "rotate" => {
            let body = json!({"grace_seconds": form.grace_seconds.unwrap_or(0)});
            let path = format!("{path}/rotate");
            let r = act(&dash, &session, Method::POST, &path, Some(&body)).await;
            (r, "Key rotated. Copy its new token now:")
        }
        other => {
            let (method, body) = status_change(other);
            let r = act(&dash, &session, method, &path, body.as_ref()).await;
            let done = match other {
                "disable" => "Key disabled.",
                "enable" => "Key enabled.",
                _ => "Key deleted.",
            };
            (r, done)
        }
    };
    let to = match (action.as_str(), reply.ok()) {
        ("delete", true) => format!("/projects/{}", form.project_id),
        _ => format!("/keys/{id}"),
    };
    flash_to(&dash, &session, outcome(&reply, done), &to)
}

#[derive(Deserialize)]
pub struct RuleForm {
    /// `add` or `remove`.
    op: String,
    #[serde(default)]
    kind: String,
    /// Models or providers, separated by commas.
    #[serde(default)]
    values: String,
    #[serde(default)]
    pricing_type: String,
    #[serde(default)]
    max_input: String,
    #[serde(default)]
    max_output: String,
    #[serde(default)]
    index: Option<usize>,
}

/// The rule the add form describes.
fn rule_of(form: &RuleForm) -> Value {
    let list: Vec<&str> = form
        .values
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    match form.kind.as_str() {
        k @ ("allow_models" | "deny_models") => json!({"type": k, "models": list}),
        k @ ("allow_providers" | "deny_providers") => json!({"type": k, "providers": list}),
        k => {
            let mut rule = json!({"type": k, "pricing_type": form.pricing_type});
            if let Ok(n) = form.max_input.trim().parse::<f64>() {
                rule["max_input_usd_per_mtok"] = json!(n);
            }
            if let Ok(n) = form.max_output.trim().parse::<f64>() {
                rule["max_output_usd_per_mtok"] = json!(n);
            }
            rule
        }
    }
}

/// `POST /keys/{id}/rules`: adds or removes one rule (the API checks the whole set).
pub async fn set_rules(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<RuleForm>,
) -> Response {
    let path = format!("/api/keys/{id}/iam-rules");
    let current = dash
        .api
        .get(&session.token, &path, &session.request_id)
        .await;
    let mut rules = current.body["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match (form.op.as_str(), form.index) {
        ("remove", Some(i)) if i < rules.len() => {
            rules.remove(i);
        }
        _ => rules.push(rule_of(&form)),
    }
    let body = json!({"rules": rules});
    let to = format!("/keys/{id}");
    act_then(
        &dash,
        &session,
        (Method::PUT, &path),
        Some(&body),
        "IAM rules saved.",
        &to,
    )
    .await
}
