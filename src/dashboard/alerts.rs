//! Spend alerts: an organization's webhooks (create, with the signing secret shown once;
//! delete) and each one's deliveries and their attempts.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{act_then, render, Layout};
use super::session::{Posted, Session};
use super::view::{text, Row};
use super::Dash;

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    l: Layout,
    org: String,
    hooks: Vec<Row>,
    manages: bool,
}

/// `GET /organizations/{id}/alerts`.
pub async fn page(State(dash): State<Dash>, session: Session, Path(org): Path<String>) -> Response {
    let path = format!("/api/organizations/{org}/webhooks");
    let r = dash
        .api
        .get(&session.token, &path, &session.request_id)
        .await;
    if !r.ok() {
        return super::layout::not_found(&dash, &session, &r.message());
    }
    let list = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let hooks = r
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| Row {
            id: text(h, "id"),
            cells: vec![
                text(h, "url"),
                list(&h["events"]),
                list(&h["thresholds_percent"]),
                match text(h, "project_id") {
                    p if p.is_empty() => "whole organization".into(),
                    p => p,
                },
            ],
        })
        .collect();
    render(&AlertsPage {
        l: Layout::of(&dash, &session, "Spend alerts"),
        manages: session.manages() || session.is_admin(),
        hooks,
        org,
    })
}

/// `POST /organizations/{id}/alerts`: a webhook; its secret is shown once.
pub async fn create(
    State(dash): State<Dash>,
    Path(org): Path<String>,
    Posted(session, fields): Posted<Vec<(String, String)>>,
) -> Response {
    let one = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let events: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n == "events")
        .map(|(_, v)| v.as_str())
        .collect();
    let thresholds: Vec<i64> = one("thresholds")
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let credits = one("credits_below_usd").parse::<f64>().ok();
    let project = Some(one("project_id")).filter(|p| !p.is_empty());
    let body = json!({"url": one("url"), "events": events, "thresholds_percent": thresholds,
                      "credits_below_usd": credits, "project_id": project});
    let path = format!("/api/organizations/{org}/webhooks");
    let done = "Webhook added. Verify deliveries with this signing secret:";
    let to = format!("/organizations/{org}/alerts");
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
pub struct DeleteForm {
    organization_id: String,
}

/// `POST /webhooks/{id}/delete`.
pub async fn delete(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<DeleteForm>,
) -> Response {
    let path = format!("/api/webhooks/{id}");
    let back = format!("/organizations/{}/alerts", form.organization_id);
    act_then(
        &dash,
        &session,
        (Method::DELETE, &path),
        None,
        "Webhook deleted.",
        &back,
    )
    .await
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct Deliveries {
    l: Layout,
    json: String,
}

/// `GET /webhooks/{id}/deliveries`.
pub async fn deliveries(
    State(dash): State<Dash>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let path = format!("/api/webhooks/{id}/deliveries");
    let r = dash
        .api
        .get(&session.token, &path, &session.request_id)
        .await;
    if !r.ok() {
        return super::layout::not_found(&dash, &session, &r.message());
    }
    render(&Deliveries {
        l: Layout::of(&dash, &session, "Deliveries"),
        json: serde_json::to_string_pretty(&r.body).unwrap_or_default(),
    })
}
