//! Who is calling: the gateway admin (`TOLLGATE_ADMIN_TOKEN`) or a member (by the SHA-256 of
//! the management token). Anything of another organization is 404 to a member, never 403.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tollgate_aggregates::types::Role;

use super::error::{ApiError, ApiResult};
use crate::app::{AppState, Meta};
use crate::crypto::token_hash;

#[derive(Debug, Clone)]
pub enum Actor {
    Admin,
    Member {
        id: String,
        organization_id: String,
        role: Role,
    },
}

/// The authenticated caller and the request id: what every event's metadata records.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub meta: Meta,
}

impl Caller {
    /// The actor id recorded in events: a member id, or `admin`.
    pub fn id(&self) -> &str {
        &self.meta.actor
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.actor, Actor::Admin)
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only the gateway admin may do this"))
        }
    }

    /// The caller's role in `organization_id`; the gateway admin acts as an owner. A member
    /// of another organization gets `what` not found.
    pub fn role_in(&self, organization_id: &str, what: &'static str) -> ApiResult<Role> {
        match &self.actor {
            Actor::Admin => Ok(Role::Owner),
            Actor::Member {
                organization_id: own,
                role,
                ..
            } if own == organization_id => Ok(*role),
            Actor::Member { .. } => Err(ApiError::NotFound(what)),
        }
    }

    /// Like `role_in`, and at least `min`.
    pub fn require(&self, organization_id: &str, what: &'static str, min: Role) -> ApiResult<Role> {
        let role = self.role_in(organization_id, what)?;
        if role < min {
            return Err(ApiError::forbidden(format!(
                "this needs the {} role or higher",
                min.as_str()
            )));
        }
        Ok(role)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<Self> {
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let actor = if app.is_admin_token(token) {
            Actor::Admin
        } else {
            let member =
                tollgate_projections::read::member_by_token_hash(&app.db, &token_hash(token))
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
            Actor::Member {
                role: member.role,
                id: member.id,
                organization_id: member.organization_id,
            }
        };
        let actor_id = match &actor {
            Actor::Admin => "admin".to_string(),
            Actor::Member { id, .. } => id.clone(),
        };
        Ok(Self {
            actor,
            meta: Meta {
                actor: actor_id,
                request_id,
            },
        })
    }
}
