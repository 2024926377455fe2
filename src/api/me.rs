//! `GET /api/me` (who the token is) and `GET /api/organizations` (what it may see): what a
//! client, the dashboard first, needs before it knows any id.

use axum::extract::State;
use axum::Json as JsonOut;
use serde::Serialize;
use tollgate_projections::read;
use utoipa::ToSchema;

use super::auth::{Actor, Caller};
use super::dto;
use super::error::{ApiResult, ErrorBody};
use crate::app::AppState;

/// Organizations the admin's list shows at most.
const MAX_LISTED: i64 = 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `admin`, or the member's id.
    pub id: String,
    /// `admin` for the gateway admin, else the member's role.
    pub role: String,
    /// The member's organization (absent for the admin).
    pub organization_id: Option<String>,
    pub email: Option<String>,
}

#[utoipa::path(get, path = "/api/me", tag = "organizations",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(app): State<AppState>, caller: Caller) -> ApiResult<JsonOut<Me>> {
    Ok(JsonOut(match &caller.actor {
        Actor::Admin => Me {
            id: "admin".into(),
            role: "admin".into(),
            organization_id: None,
            email: None,
        },
        Actor::Member {
            id,
            organization_id,
            role,
        } => Me {
            id: id.clone(),
            role: role.as_str().into(),
            organization_id: Some(organization_id.clone()),
            email: read::member(&app.db, id).await?.map(|m| m.email),
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Organizations {
    pub organizations: Vec<dto::Organization>,
}

#[utoipa::path(get, path = "/api/organizations", tag = "organizations",
    responses((status = 200, body = Organizations), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<JsonOut<Organizations>> {
    let rows = match &caller.actor {
        Actor::Admin => read::organizations(&app.db, MAX_LISTED).await?,
        Actor::Member {
            organization_id, ..
        } => read::organization(&app.db, organization_id)
            .await?
            .into_iter()
            .collect(),
    };
    Ok(JsonOut(Organizations {
        organizations: rows.into_iter().map(Into::into).collect(),
    }))
}
