//! The organizations page (the admin's list), an organization's page (its projects and their
//! limit, members, credits) and their forms.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{act, act_then, flash_to, outcome, render, Layout};
use super::session::{Posted, Session};
use super::view::{text, usd, Row};
use super::Dash;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    l: Layout,
    orgs: Vec<Row>,
}

/// `GET /`: a member's organization, or the admin's list of them.
pub async fn home(State(dash): State<Dash>, session: Session) -> Response {
    if let Some(org) = &session.organization_id {
        return Redirect::to(&format!("/organizations/{org}")).into_response();
    }
    let reply = dash
        .api
        .get(&session.token, "/api/organizations", &session.request_id)
        .await;
    let orgs = reply.body["organizations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| Row {
            id: text(o, "id"),
            cells: vec![
                text(o, "name"),
                format!(
                    "{} / {}",
                    text(o, "project_count"),
                    text(o, "project_limit")
                ),
                usd(&o["credits_usd"]),
            ],
        })
        .collect();
    render(&Home {
        l: Layout::of(&dash, &session, "Organizations"),
        orgs,
    })
}

#[derive(Deserialize)]
pub struct NameForm {
    name: String,
}

/// `POST /organizations` (the admin).
pub async fn create(State(dash): State<Dash>, Posted(session, form): Posted<NameForm>) -> Response {
    let body = json!({"name": form.name});
    let r = act(
        &dash,
        &session,
        Method::POST,
        "/api/organizations",
        Some(&body),
    )
    .await;
    let to = match r.ok() {
        true => format!("/organizations/{}", text(&r.body, "id")),
        false => "/".into(),
    };
    flash_to(&dash, &session, outcome(&r, "Organization created."), &to)
}

#[derive(Template)]
#[template(path = "organization.html")]
struct OrgPage {
    l: Layout,
    id: String,
    name: String,
    project_count: String,
    project_limit: String,
    at_limit: bool,
    projects: Vec<Row>,
    members: Vec<Row>,
    balance: String,
    grants: Vec<Row>,
    manages: bool,
    admin: bool,
}

/// `GET /organizations/{id}`.
pub async fn page(State(dash): State<Dash>, session: Session, Path(id): Path<String>) -> Response {
    let (t, rid) = (&session.token, &session.request_id);
    let org = dash
        .api
        .get(t, &format!("/api/organizations/{id}"), rid)
        .await;
    if !org.ok() {
        return super::layout::not_found(&dash, &session, &org.message());
    }
    let projects = dash
        .api
        .get(t, &format!("/api/organizations/{id}/projects"), rid)
        .await;
    let members = dash
        .api
        .get(t, &format!("/api/organizations/{id}/members"), rid)
        .await;
    let credits = dash
        .api
        .get(t, &format!("/api/organizations/{id}/credits"), rid)
        .await;
    let rows = |v: &Value, f: &dyn Fn(&Value) -> Row| -> Vec<Row> {
        v.as_array().into_iter().flatten().map(f).collect()
    };
    let projects = rows(&projects.body, &|p| Row {
        id: text(p, "id"),
        cells: vec![
            text(p, "name"),
            text(p, "mode"),
            match p["caching_enabled"].as_bool() {
                Some(true) => format!("on, {} s", text(p, "cache_duration_seconds")),
                _ => "off".into(),
            },
            usd(&p["spend_usd"]),
        ],
    });
    let members = rows(&members.body, &|m| Row {
        id: text(m, "id"),
        cells: vec![text(m, "email"), text(m, "role"), text(m, "created_at")],
    });
    let grants = rows(&credits.body["grants"], &|g| Row {
        id: String::new(),
        cells: vec![
            text(g, "granted_at"),
            usd(&g["amount_usd"]),
            text(g, "reference"),
            text(g, "actor"),
        ],
    });
    let count = org.body["project_count"].as_i64().unwrap_or(0);
    let limit = org.body["project_limit"].as_i64().unwrap_or(0);
    render(&OrgPage {
        l: Layout::of(&dash, &session, &text(&org.body, "name")),
        name: text(&org.body, "name"),
        project_count: count.to_string(),
        project_limit: limit.to_string(),
        at_limit: count >= limit,
        projects,
        members,
        balance: usd(&credits.body["balance_usd"]),
        grants,
        manages: session.manages() || session.is_admin(),
        admin: session.is_admin(),
        id,
    })
}

#[derive(Deserialize)]
pub struct ProjectForm {
    name: String,
    #[serde(default)]
    description: String,
    mode: String,
    /// A checkbox: present when checked.
    caching: Option<String>,
    cache_duration_seconds: Option<i64>,
}

/// `POST /organizations/{id}/projects`.
pub async fn create_project(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<ProjectForm>,
) -> Response {
    let mut body = json!({"organization_id": id, "name": form.name, "description": form.description,
                          "mode": form.mode, "caching_enabled": form.caching.is_some()});
    if let Some(s) = form.cache_duration_seconds {
        body["cache_duration_seconds"] = json!(s);
    }
    let r = act(&dash, &session, Method::POST, "/api/projects", Some(&body)).await;
    let to = match r.ok() {
        true => format!("/projects/{}", text(&r.body, "id")),
        false => format!("/organizations/{id}"),
    };
    flash_to(&dash, &session, outcome(&r, "Project created."), &to)
}

#[derive(Deserialize)]
pub struct MemberForm {
    email: String,
    role: String,
}

/// `POST /organizations/{id}/members`: the new member's token is shown once.
pub async fn add_member(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<MemberForm>,
) -> Response {
    let body = json!({"email": form.email, "role": form.role});
    let path = format!("/api/organizations/{id}/members");
    let done = "Member added. Give them this token to sign in:";
    let to = format!("/organizations/{id}");
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
pub struct CreditsForm {
    amount_usd: f64,
    #[serde(default)]
    reference: String,
}

/// `POST /organizations/{id}/credits` (the admin).
pub async fn add_credits(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    Posted(session, form): Posted<CreditsForm>,
) -> Response {
    let body = json!({"amount_usd": form.amount_usd, "reference": form.reference});
    let path = format!("/api/organizations/{id}/credits");
    let to = format!("/organizations/{id}");
    act_then(
        &dash,
        &session,
        (Method::POST, &path),
        Some(&body),
        "Credits granted.",
        &to,
    )
    .await
}

#[derive(Deserialize)]
pub struct MemberAction {
    #[serde(default)]
    role: String,
}

/// `POST /organizations/{id}/members/{member}/{role|remove}`.
pub async fn member_action(
    State(dash): State<Dash>,
    Path((id, member, action)): Path<(String, String, String)>,
    Posted(session, form): Posted<MemberAction>,
) -> Response {
    let path = format!("/api/organizations/{id}/members/{member}");
    let to = format!("/organizations/{id}#members");
    match action.as_str() {
        "role" => {
            let body = json!({"role": form.role});
            act_then(
                &dash,
                &session,
                (Method::PATCH, &path),
                Some(&body),
                "Role changed.",
                &to,
            )
            .await
        }
        _ => {
            act_then(
                &dash,
                &session,
                (Method::DELETE, &path),
                None,
                "Member removed.",
                &to,
            )
            .await
        }
    }
}
