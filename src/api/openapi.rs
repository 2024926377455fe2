//! The OpenAPI document, generated from the handlers' annotations. A test keeps
//! `schemas/openapi.json` equal to it.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{audit, dto, error, keys, organizations, projects, provider_keys, usage};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tollgate management API", description = "Organizations, projects, API keys, provider keys and the audit trail."),
    security(("bearer" = [])),
    modifiers(&BearerAuth),
    paths(
        organizations::create, organizations::get, organizations::update,
        organizations::add_member, organizations::list_members, organizations::change_role,
        organizations::remove_member, organizations::add_credits, organizations::get_credits,
        organizations::list_projects,
        projects::create, projects::get, projects::update, projects::delete,
        keys::create, keys::list, keys::get, keys::update, keys::rotate, keys::revoke,
        keys::get_rules, keys::set_rules,
        provider_keys::add, provider_keys::list, provider_keys::update, provider_keys::delete,
        audit::list, usage::logs, usage::summary,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, dto::Organization, dto::Member,
        dto::MemberWithToken, dto::Credits, dto::CreditGrant, dto::Project, dto::ProviderKey,
        dto::ApiKey, dto::KeyWithToken))
)]
pub struct ApiDoc;

/// The document as pretty JSON (what `schemas/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
