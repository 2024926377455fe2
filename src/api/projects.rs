//! Projects: create (taking a slot under the organization's limit), read (also as of a past
//! time, replayed from events), update, archive.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json as JsonOut;
use serde::Deserialize;
use tollgate_aggregates::fallbacks::Fallbacks;
use tollgate_aggregates::organization::OrganizationCommand;
use tollgate_aggregates::period::Period;
use tollgate_aggregates::project::{self, Project, ProjectCommand as C};
use tollgate_aggregates::types::{ProjectMode, Role};
use tollgate_projections::events::aggregate_as_of;
use tollgate_projections::read;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::budget::{self, explicit, Rates};
use super::dto::{self, parse_time, time};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Json, Query};
use crate::app::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub organization_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(value_type = Option<String>, example = "hybrid")]
    pub mode: Option<ProjectMode>,
    #[serde(default)]
    pub caching_enabled: bool,
    pub cache_duration_seconds: Option<u32>,
    /// A spend limit renewed each `period`, for all the project's keys together.
    pub period_limit_usd: Option<f64>,
    #[schema(value_type = Option<String>, example = "month")]
    pub period: Option<Period>,
    /// Requests and tokens per minute for all the project's keys together.
    pub rate_limits: Option<Rates>,
    /// Default fallback chains: requested model -> up to 4 models tried after it, in order,
    /// when it fails (429, 5xx, connection failure, timeout) and the request lists no
    /// `models` of its own.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Vec<String>>>,
        example = json!({"gpt-4o": ["claude-sonnet-4-5", "gemini-2.0-flash"]}))]
    pub fallbacks: Option<Fallbacks>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<String>)]
    pub mode: Option<ProjectMode>,
    pub caching_enabled: Option<bool>,
    pub cache_duration_seconds: Option<u32>,
    /// A number sets the period budget, null clears it.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<f64>)]
    pub period_limit_usd: Option<Option<f64>>,
    /// `hour`, `day`, `week` or `month` (calendar windows in UTC, weeks from Monday).
    #[schema(value_type = Option<String>, example = "day")]
    pub period: Option<Period>,
    /// An object replaces both rate limits, null clears them.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<Rates>)]
    pub rate_limits: Option<Option<Rates>>,
    /// An object replaces every fallback chain, null or `{}` clears them.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, Vec<String>>>)]
    pub fallbacks: Option<Option<Fallbacks>>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// RFC 3339 time: answer with the resource as it was then.
    pub as_of: Option<String>,
}

/// A live project the caller may see, and the caller's role in its organization.
pub async fn load(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(read::ProjectRow, Role)> {
    let project = read::project(&app.db, id)
        .await?
        .filter(|p| !p.archived)
        .ok_or(ApiError::NotFound("project"))?;
    let role = caller.role_in(&project.organization_id, "project")?;
    Ok((project, role))
}

/// A project as shown, with its spend.
pub async fn shown(app: &AppState, row: read::ProjectRow) -> ApiResult<dto::Project> {
    let spend = budget::spend(app, "project", &row.id, row.period_budget).await?;
    let mut project = dto::Project::from(row);
    project.spend = spend;
    Ok(project)
}

async fn reload(app: &AppState, id: &str) -> ApiResult<dto::Project> {
    let row = read::project(&app.db, id).await?;
    let row = row.ok_or_else(|| ApiError::internal("project missing after write"))?;
    shown(app, row).await
}

#[utoipa::path(post, path = "/api/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = dto::Project), (status = 400, body = ErrorBody),
        (status = 409, description = "project_limit_reached", body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateProject>,
) -> ApiResult<(StatusCode, JsonOut<dto::Project>)> {
    let org = &body.organization_id;
    caller.require(org, "organization", Role::Admin)?;
    read::organization(&app.db, org)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    project::validate_new(&body.name, &body.description, body.cache_duration_seconds)?;
    let period_budget = budget::at_creation(body.period_limit_usd, body.period)?;
    let id = uuid::Uuid::now_v7().to_string();
    // The slot is taken first: the organization aggregate is where the limit holds under
    // concurrency. A failed creation gives the slot back.
    let take = OrganizationCommand::TakeProjectSlot {
        project_id: id.clone(),
    };
    app.execute(&app.organizations, org, take, &caller.meta)
        .await?;
    let cmd = C::Create {
        organization_id: org.clone(),
        name: body.name,
        description: body.description,
        mode: body.mode.unwrap_or_default(),
        caching_enabled: body.caching_enabled,
        cache_duration_seconds: body.cache_duration_seconds,
        period_budget,
        rate_limits: body.rate_limits.map(Into::into).unwrap_or_default(),
        fallbacks: body.fallbacks.unwrap_or_default(),
    };
    if let Err(e) = app.execute(&app.projects, &id, cmd, &caller.meta).await {
        let release = OrganizationCommand::ReleaseProjectSlot { project_id: id };
        app.execute(&app.organizations, org, release, &caller.meta)
            .await?;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, JsonOut(reload(&app, &id).await?)))
}

#[utoipa::path(get, path = "/api/projects/{id}", tag = "projects", params(AsOfQuery),
    responses((status = 200, body = dto::Project), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> ApiResult<JsonOut<dto::Project>> {
    let Some(as_of) = q.as_of else {
        let row = load(&app, &caller, &id).await?.0;
        return Ok(JsonOut(shown(&app, row).await?));
    };
    let until = parse_time("as_of", &as_of)?;
    // The project may be archived now; what counts is that the caller's organization owns it.
    let current = read::project(&app.db, &id)
        .await?
        .ok_or(ApiError::NotFound("project"))?;
    caller.role_in(&current.organization_id, "project")?;
    let past = aggregate_as_of::<Project>(&app.db, &id, until)
        .await?
        .filter(|p| !p.aggregate.archived)
        .ok_or(ApiError::NotFound("project"))?;
    let p = past.aggregate;
    Ok(JsonOut(dto::Project {
        id,
        organization_id: p.organization_id,
        name: p.name,
        description: p.description,
        mode: p.mode.as_str().into(),
        caching_enabled: p.caching_enabled,
        cache_duration_seconds: p.cache_duration_seconds.into(),
        spend: budget::settings(p.period_budget),
        rate_limits: budget::rates(p.rate_limits),
        fallbacks: p.fallbacks,
        created_at: time(past.created_at),
        updated_at: time(past.updated_at),
    }))
}

#[utoipa::path(patch, path = "/api/projects/{id}", tag = "projects", request_body = UpdateProject,
    responses((status = 200, body = dto::Project), (status = 400, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateProject>,
) -> ApiResult<JsonOut<dto::Project>> {
    let (project, _) = load(&app, &caller, &id).await?;
    caller.require(&project.organization_id, "project", Role::Admin)?;
    let period_budget = budget::change(body.period_limit_usd, body.period, project.period_budget)?;
    let cmd = C::Update {
        name: body.name,
        description: body.description,
        mode: body.mode,
        caching_enabled: body.caching_enabled,
        cache_duration_seconds: body.cache_duration_seconds,
        period_budget,
        rate_limits: budget::rates_change(body.rate_limits),
        fallbacks: body.fallbacks.map(Option::unwrap_or_default),
    };
    app.execute(&app.projects, &id, cmd, &caller.meta).await?;
    Ok(JsonOut(reload(&app, &id).await?))
}

#[utoipa::path(delete, path = "/api/projects/{id}", tag = "projects",
    responses((status = 204), (status = 403, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (project, _) = load(&app, &caller, &id).await?;
    caller.require(&project.organization_id, "project", Role::Owner)?;
    app.execute(&app.projects, &id, C::Archive, &caller.meta)
        .await?;
    let release = OrganizationCommand::ReleaseProjectSlot { project_id: id };
    app.execute(
        &app.organizations,
        &project.organization_id,
        release,
        &caller.meta,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
