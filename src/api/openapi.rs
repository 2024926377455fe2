//! The OpenAPI document, generated from the handlers' annotations. A test keeps
//! `schemas/openapi.json` equal to it.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{audit, dto, error, keys, me, organizations, projects, provider_keys, usage, webhooks};

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

/// The error answers every handler can give (they come from shared extractors and checks, so
/// the handlers' own annotations leave them out), operation ids made unique by their tag
/// (`keys_get`, not `get`), and the rotate body marked optional as the server treats it.
struct Conventions;

/// (status, component name, description): the shared error answers.
const ERRORS: [(&str, &str, &str); 7] = [
    (
        "400",
        "BadRequest",
        "Invalid request: a malformed id, query string or body; `error.param` names the field",
    ),
    ("401", "Unauthorized", "Missing or unknown bearer token"),
    (
        "403",
        "Forbidden",
        "The caller's role may not do this (gateway-admin-only routes answer members 403)",
    ),
    (
        "404",
        "NotFound",
        "The resource does not exist or belongs to another organization",
    ),
    (
        "409",
        "Conflict",
        "The change conflicts with the resource's state, or it was changed concurrently",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the configured limit",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "A body that is not `Content-Type: application/json`",
    ),
];

/// Whether an operation can answer the shared error `status`.
fn answers(status: &str, method: &str, path: &str, has_body: bool) -> bool {
    match status {
        // Only creating an organization names nothing that could be missing.
        "404" => !(method == "post" && path == "/api/organizations"),
        // Reads never conflict.
        "409" => method != "get",
        "413" | "415" => has_body,
        _ => true,
    }
}

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in ERRORS {
            let content = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", content)
                .build();
            components.responses.insert(name.into(), response.into());
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    conventions(method, path, operation);
                }
            }
        }
    }
}

fn conventions(method: &str, path: &str, operation: &mut Operation) {
    let tag = operation
        .tags
        .as_ref()
        .and_then(|t| t.first())
        .map(|t| t.replace('-', "_"));
    if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
        *id = format!("{tag}_{id}");
    }
    if path == "/api/keys/{id}/rotate" {
        // `OptionalJson`: no body at all means the defaults.
        if let Some(body) = operation.request_body.as_mut() {
            body.required = Some(Required::False);
        }
    }
    let has_body = operation.request_body.as_ref().is_some_and(has_content);
    for (status, name, _) in ERRORS {
        if !answers(status, method, path, has_body) {
            continue;
        }
        operation
            .responses
            .responses
            .entry(status.into())
            .or_insert_with(|| Ref::from_response_name(name).into());
    }
}

fn has_content(body: &RequestBody) -> bool {
    !body.content.is_empty()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tollgate management API", description = "Organizations, projects, API keys, provider keys and the audit trail."),
    security(("bearer" = [])),
    modifiers(&BearerAuth, &Conventions),
    paths(
        me::me, me::list,
        organizations::create, organizations::get, organizations::update,
        organizations::add_member, organizations::list_members, organizations::change_role,
        organizations::remove_member, organizations::add_credits, organizations::get_credits,
        organizations::list_projects,
        projects::create, projects::get, projects::update, projects::delete,
        keys::create, keys::list, keys::get, keys::update, keys::rotate, keys::revoke,
        keys::get_rules, keys::set_rules,
        provider_keys::add, provider_keys::list, provider_keys::update, provider_keys::delete,
        audit::list, usage::logs, usage::summary,
        webhooks::create, webhooks::list, webhooks::delete, webhooks::deliveries,
    ),
    components(schemas(error::ErrorBody, error::ErrorDetail, dto::Organization, dto::Member,
        dto::MemberWithToken, dto::Credits, dto::CreditGrant, dto::Project, dto::ProviderKey,
        dto::ApiKey, dto::KeyWithToken, me::Me, me::Organizations))
)]
pub struct ApiDoc;

/// The document as pretty JSON (what `schemas/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
