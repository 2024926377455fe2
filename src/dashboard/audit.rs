//! The audit trail (who did what when, filtered) and time travel: a project or key as it was
//! at a chosen moment, side by side with now.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::layout::{render, Layout};
use super::session::Session;
use super::view::{text, Row};
use super::Dash;

#[derive(Deserialize, Default)]
pub struct AuditFilters {
    #[serde(default)]
    aggregate_type: String,
    #[serde(default)]
    aggregate_id: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    cursor: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    f: AuditFilters,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /audit`.
pub async fn page(
    State(dash): State<Dash>,
    session: Session,
    Query(f): Query<AuditFilters>,
) -> Response {
    // Built before any await: the serializer is not `Send`.
    let query = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("limit", "100");
        if let Some(org) = &session.organization_id {
            q.append_pair("organization_id", org);
        }
        for (k, v) in [
            ("aggregate_type", &f.aggregate_type),
            ("aggregate_id", &f.aggregate_id),
            ("event_type", &f.event_type),
            ("cursor", &f.cursor),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    };
    let r = dash
        .api
        .get(
            &session.token,
            &format!("/api/audit?{query}"),
            &session.request_id,
        )
        .await;
    let rows = r.body["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Row {
            id: text(e, "aggregate_id"),
            cells: vec![
                text(e, "recorded_at"),
                text(&e["metadata"], "actor"),
                text(e, "event_type"),
                format!("{} {}", text(e, "aggregate_type"), text(e, "aggregate_id")),
                compact(&e["payload"]),
                text(&e["metadata"], "request_id"),
            ],
        })
        .collect();
    let next = r.body["next_cursor"].as_str().map(|c| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("aggregate_type", &f.aggregate_type)
            .append_pair("aggregate_id", &f.aggregate_id)
            .append_pair("event_type", &f.event_type)
            .append_pair("cursor", c);
        q.finish()
    });
    render(&AuditPage {
        l: Layout::of(&dash, &session, "Audit trail"),
        error: (!r.ok()).then(|| r.message()),
        rows,
        next,
        f,
    })
}

/// An event's fields on one line, cut short.
fn compact(payload: &Value) -> String {
    let text = payload.to_string();
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[derive(Deserialize, Default)]
pub struct AsOf {
    /// `YYYY-MM-DDTHH:MM[:SS]` (a `datetime-local` input), UTC.
    #[serde(default)]
    at: String,
}

#[derive(Template)]
#[template(path = "as_of.html")]
struct TimeTravel {
    l: Layout,
    /// The page of what is shown, and what it is.
    page: String,
    what: &'static str,
    at: String,
    then: String,
    now: String,
    error: Option<String>,
}

/// `GET /projects/{id}/as-of?at=`: the project then and now.
pub async fn project_as_of(
    State(dash): State<Dash>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Response {
    as_of(&dash, &session, Kind::Project, id, q).await
}

/// `GET /keys/{id}/as-of?at=`: the API key then and now.
pub async fn key_as_of(
    State(dash): State<Dash>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Response {
    as_of(&dash, &session, Kind::Key, id, q).await
}

#[derive(Clone, Copy)]
enum Kind {
    Project,
    Key,
}

async fn as_of(dash: &Dash, session: &Session, kind: Kind, id: String, q: AsOf) -> Response {
    let (t, rid) = (&session.token, &session.request_id);
    let (api, page, what) = match kind {
        Kind::Project => (
            format!("/api/projects/{id}"),
            format!("/projects/{id}"),
            "project",
        ),
        Kind::Key => (format!("/api/keys/{id}"), format!("/keys/{id}"), "API key"),
    };
    let now = dash.api.get(t, &api, rid).await;
    if !now.ok() {
        return super::layout::not_found(dash, session, &now.message());
    }
    let mut error = None;
    let mut then = String::new();
    // To the second when given, else the end of the minute.
    let at = chrono::NaiveDateTime::parse_from_str(&q.at, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(&q.at, "%Y-%m-%dT%H:%M")
                .map(|t| t.and_utc().format("%Y-%m-%dT%H:%M:59Z").to_string())
        });
    if let Ok(at) = at {
        let r = dash.api.get(t, &format!("{api}?as_of={at}"), rid).await;
        match r.ok() {
            true => then = serde_json::to_string_pretty(&r.body).unwrap_or_default(),
            false => error = Some(r.message()),
        }
    } else if !q.at.is_empty() {
        error = Some("Pick a date and a time.".into());
    }
    render(&TimeTravel {
        l: Layout::of(dash, session, "Time travel"),
        now: serde_json::to_string_pretty(&now.body).unwrap_or_default(),
        at: q.at,
        then,
        error,
        page,
        what,
    })
}
