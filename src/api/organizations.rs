//! Organizations, their members and credits.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json as JsonOut;
use serde::Deserialize;
use tollgate_aggregates::organization::OrganizationCommand as C;
use tollgate_aggregates::types::Role;
use tollgate_projections::read;
use utoipa::ToSchema;

use super::auth::Caller;
use super::dto::{self, nanos};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Json;
use crate::app::AppState;
use crate::crypto::{new_member_token, token_hash};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    pub name: String,
    pub project_limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    pub project_limit: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    #[schema(value_type = String, example = "developer")]
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCredits {
    pub amount_usd: f64,
    pub reference: String,
}

/// The organization if the caller may see it (404 otherwise, whichever the reason).
async fn load(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(read::OrganizationRow, Role)> {
    let role = caller.role_in(id, "organization")?;
    let org = read::organization(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    Ok((org, role))
}

async fn reload(app: &AppState, id: &str) -> ApiResult<dto::Organization> {
    read::organization(&app.db, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::internal("organization missing after write"))
}

#[utoipa::path(post, path = "/api/organizations", tag = "organizations",
    request_body = CreateOrganization,
    responses((status = 201, body = dto::Organization), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateOrganization>,
) -> ApiResult<(StatusCode, JsonOut<dto::Organization>)> {
    caller.require_admin()?;
    let id = uuid::Uuid::now_v7().to_string();
    let cmd = C::Create {
        name: body.name,
        project_limit: body.project_limit,
    };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(reload(&app, &id).await?)))
}

#[utoipa::path(get, path = "/api/organizations/{id}", tag = "organizations",
    responses((status = 200, body = dto::Organization), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<dto::Organization>> {
    Ok(JsonOut(load(&app, &caller, &id).await?.0.into()))
}

#[utoipa::path(patch, path = "/api/organizations/{id}", tag = "organizations",
    request_body = UpdateOrganization,
    responses((status = 200, body = dto::Organization), (status = 403, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateOrganization>,
) -> ApiResult<JsonOut<dto::Organization>> {
    load(&app, &caller, &id).await?;
    caller.require_admin()?;
    let cmd = C::ChangeProjectLimit {
        project_limit: body.project_limit,
    };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    Ok(JsonOut(reload(&app, &id).await?))
}

/// Owners manage everyone; admins manage everyone but owners.
fn check_manages(role: Role, target: Role) -> ApiResult<()> {
    if role < Role::Admin {
        return Err(ApiError::forbidden(
            "managing members needs the admin role or higher",
        ));
    }
    if target == Role::Owner && role != Role::Owner {
        return Err(ApiError::forbidden("only owners may manage owners"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/organizations/{id}/members", tag = "organizations",
    request_body = AddMember,
    responses((status = 201, body = dto::MemberWithToken), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AddMember>,
) -> ApiResult<(StatusCode, JsonOut<dto::MemberWithToken>)> {
    let (_, role) = load(&app, &caller, &id).await?;
    check_manages(role, body.role)?;
    let member_id = uuid::Uuid::now_v7().to_string();
    let token = new_member_token();
    let cmd = C::AddMember {
        member_id: member_id.clone(),
        email: body.email,
        role: body.role,
        token_hash: token_hash(&token),
    };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    let member = read::member(&app.db, &member_id)
        .await?
        .ok_or_else(|| ApiError::internal("member missing after write"))?;
    let out = dto::MemberWithToken {
        member: member.into(),
        token,
    };
    Ok((StatusCode::CREATED, JsonOut(out)))
}

#[utoipa::path(get, path = "/api/organizations/{id}/members", tag = "organizations",
    responses((status = 200, body = Vec<dto::Member>)))]
pub async fn list_members(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<Vec<dto::Member>>> {
    load(&app, &caller, &id).await?;
    let members = read::members_of(&app.db, &id).await?;
    Ok(JsonOut(members.into_iter().map(Into::into).collect()))
}

/// A member of organization `id`, as seen by the caller.
async fn target_member(
    app: &AppState,
    caller: &Caller,
    id: &str,
    member_id: &str,
) -> ApiResult<(Role, Role)> {
    let (_, role) = load(app, caller, id).await?;
    let target = read::member(&app.db, member_id)
        .await?
        .filter(|m| m.organization_id == id)
        .ok_or(ApiError::NotFound("member"))?;
    let target_role = target.role;
    Ok((role, target_role))
}

#[utoipa::path(patch, path = "/api/organizations/{id}/members/{member_id}", tag = "organizations",
    request_body = ChangeRole,
    responses((status = 200, body = dto::Member), (status = 403, body = ErrorBody)))]
pub async fn change_role(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, member_id)): Path<(String, String)>,
    Json(body): Json<ChangeRole>,
) -> ApiResult<JsonOut<dto::Member>> {
    let (role, target_role) = target_member(&app, &caller, &id, &member_id).await?;
    check_manages(role, target_role.max(body.role))?;
    let cmd = C::ChangeMemberRole {
        member_id: member_id.clone(),
        role: body.role,
    };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    let member = read::member(&app.db, &member_id)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    Ok(JsonOut(member.into()))
}

#[utoipa::path(delete, path = "/api/organizations/{id}/members/{member_id}", tag = "organizations",
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (role, target_role) = target_member(&app, &caller, &id, &member_id).await?;
    check_manages(role, target_role)?;
    let cmd = C::RemoveMember { member_id };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/organizations/{id}/credits", tag = "organizations",
    request_body = AddCredits,
    responses((status = 201, body = dto::Credits), (status = 403, body = ErrorBody)))]
pub async fn add_credits(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AddCredits>,
) -> ApiResult<(StatusCode, JsonOut<dto::Credits>)> {
    load(&app, &caller, &id).await?;
    caller.require_admin()?;
    let cmd = C::AddCredits {
        amount_nano_usd: nanos("amount_usd", body.amount_usd)?,
        reference: body.reference,
    };
    app.execute(&app.organizations, &id, cmd, &caller.meta)
        .await?;
    Ok((StatusCode::CREATED, JsonOut(credits_of(&app, &id).await?)))
}

async fn credits_of(app: &AppState, id: &str) -> ApiResult<dto::Credits> {
    let org = read::organization(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    let grants = read::credit_grants(&app.db, id).await?;
    Ok(dto::Credits {
        organization_id: org.id,
        balance_usd: dto::usd(org.credits_nano_usd),
        grants: grants.into_iter().map(Into::into).collect(),
    })
}

#[utoipa::path(get, path = "/api/organizations/{id}/credits", tag = "organizations",
    responses((status = 200, body = dto::Credits)))]
pub async fn get_credits(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<dto::Credits>> {
    load(&app, &caller, &id).await?;
    Ok(JsonOut(credits_of(&app, &id).await?))
}

#[utoipa::path(get, path = "/api/organizations/{id}/projects", tag = "projects",
    responses((status = 200, body = Vec<dto::Project>)))]
pub async fn list_projects(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonOut<Vec<dto::Project>>> {
    load(&app, &caller, &id).await?;
    let mut shown = Vec::new();
    for p in read::projects_of(&app.db, &id).await? {
        shown.push(super::projects::shown(&app, p).await?);
    }
    Ok(JsonOut(shown))
}
