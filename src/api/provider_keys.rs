//! A project's own provider keys: encrypted before they enter an event, shown masked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json as JsonOut;
use serde::Deserialize;
use tollgate_aggregates::project::ProjectCommand as C;
use tollgate_aggregates::types::{KeyStatus, Role};
use tollgate_aggregates::Provider;
use tollgate_projections::read;
use utoipa::ToSchema;

use super::auth::Caller;
use super::dto;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Json;
use super::projects;
use crate::app::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProviderKey {
    pub provider: String,
    pub api_key: String,
    pub name: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProviderKey {
    #[schema(value_type = String, example = "disabled")]
    pub status: KeyStatus,
}

#[utoipa::path(post, path = "/api/projects/{id}/provider-keys", tag = "provider-keys",
    request_body = AddProviderKey,
    responses((status = 201, body = dto::ProviderKey), (status = 400, body = ErrorBody)))]
pub async fn add(
    State(app): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
    Json(body): Json<AddProviderKey>,
) -> ApiResult<(StatusCode, JsonOut<dto::ProviderKey>)> {
    let (project, _) = projects::load(&app, &caller, &project_id).await?;
    caller.require(&project.organization_id, "project", Role::Admin)?;
    let secret = body.api_key.trim();
    if secret.len() < 8 || secret.len() > 4096 || secret.contains(char::is_whitespace) {
        return Err(ApiError::invalid(
            "api_key",
            "api_key must be 8-4096 characters without spaces",
        ));
    }
    if let Some(url) = &body.base_url {
        // Where the gateway will POST with answers passed back: not into its own networks.
        let policy = app.config.upstream_policy().map_err(ApiError::internal)?;
        if let Err(message) = policy.check_url(url).await {
            return Err(ApiError::invalid("base_url", message));
        }
    }
    let Some(provider) = Provider::parse(&body.provider) else {
        return Err(ApiError::invalid(
            "provider",
            format!("unknown provider '{}'", body.provider),
        ));
    };
    let last4: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let id = uuid::Uuid::now_v7().to_string();
    let cmd = C::AddProviderKey {
        provider_key_id: id.clone(),
        provider: provider.id().to_string(),
        name: body.name,
        base_url: body.base_url,
        encrypted_key: app.cipher.encrypt(secret),
        last4,
    };
    app.execute(&app.projects, &project_id, cmd, &caller.meta)
        .await?;
    let row = read::provider_key(&app.db, &id)
        .await?
        .ok_or_else(|| ApiError::internal("provider key missing after write"))?;
    Ok((StatusCode::CREATED, JsonOut(row.into())))
}

#[utoipa::path(get, path = "/api/projects/{id}/provider-keys", tag = "provider-keys",
    responses((status = 200, body = Vec<dto::ProviderKey>)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<JsonOut<Vec<dto::ProviderKey>>> {
    projects::load(&app, &caller, &project_id).await?;
    let rows = read::provider_keys_of(&app.db, &project_id).await?;
    Ok(JsonOut(rows.into_iter().map(Into::into).collect()))
}

/// A provider key of a live project, which the caller may manage (admin or owner).
async fn load(app: &AppState, caller: &Caller, id: &str) -> ApiResult<read::ProviderKeyRow> {
    let row = read::provider_key(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("provider key"))?;
    let (project, _) = projects::load(app, caller, &row.project_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::NotFound("provider key"),
            other => other,
        })?;
    caller.require(&project.organization_id, "provider key", Role::Admin)?;
    Ok(row)
}

#[utoipa::path(patch, path = "/api/provider-keys/{id}", tag = "provider-keys",
    request_body = UpdateProviderKey,
    responses((status = 200, body = dto::ProviderKey), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<UpdateProviderKey>,
) -> ApiResult<JsonOut<dto::ProviderKey>> {
    let row = load(&app, &caller, &id).await?;
    let cmd = C::SetProviderKeyEnabled {
        provider_key_id: id.clone(),
        enabled: body.status == KeyStatus::Active,
    };
    app.execute(&app.projects, &row.project_id, cmd, &caller.meta)
        .await?;
    let row = read::provider_key(&app.db, &id)
        .await?
        .ok_or(ApiError::NotFound("provider key"))?;
    Ok(JsonOut(row.into()))
}

#[utoipa::path(delete, path = "/api/provider-keys/{id}", tag = "provider-keys",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row = load(&app, &caller, &id).await?;
    let cmd = C::RemoveProviderKey {
        provider_key_id: id,
    };
    app.execute(&app.projects, &row.project_id, cmd, &caller.meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
