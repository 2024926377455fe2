//! The audit trail: the event log itself, filtered and paged, scoped to the caller's organization.

use axum::extract::State;
use axum::Json as JsonOut;
use serde::{Deserialize, Serialize};
use tollgate_projections::read::{self, AuditFilter};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Actor, Caller};
use super::dto::{parse_time, time};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Query;
use crate::app::AppState;

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub organization_id: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, inclusive.
    pub until: Option<String>,
    /// 1-500, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    pub position: i64,
    pub organization_id: Option<String>,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    #[schema(schema_with = payload_schema)]
    pub payload: serde_json::Value,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub recorded_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// Fields derived from a secret: the SHA-256 of key and member tokens (which identifies a
/// token: whoever holds a leaked one could match it to its key) and the ciphertext of
/// provider keys. They stay in the log (a rebuild needs them) but are not served.
const SECRET_FIELDS: [&str; 4] = [
    "token_hash",
    "previous_token_hash",
    "encrypted_key",
    "encrypted_secret",
];

/// An event is `{"Variant": {fields}}` (or `"Variant"` when it has none): its fields lose
/// the secret ones.
fn redact(mut payload: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = payload
        .as_object_mut()
        .and_then(|o| o.values_mut().next())
        .and_then(|inner| inner.as_object_mut())
    {
        for name in SECRET_FIELDS {
            fields.remove(name);
        }
    }
    payload
}

/// An event's payload: `{"Variant": {fields}}`, or the bare variant name for an event that
/// has no fields (such as `"KeyRevoked"`).
fn payload_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Object))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "`{\"<EventType>\": {fields}}`, or the event type alone for an event without fields",
        ))
        .build()
        .into()
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<JsonOut<AuditPage>> {
    let organization_id = match (&caller.actor, q.organization_id) {
        (Actor::Admin, requested) => requested,
        (
            Actor::Member {
                organization_id, ..
            },
            Some(requested),
        ) if &requested != organization_id => {
            return Err(ApiError::NotFound("organization"));
        }
        (
            Actor::Member {
                organization_id, ..
            },
            _,
        ) => Some(organization_id.clone()),
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be 1-{MAX_PAGE}"),
        ));
    }
    let cursor = q
        .cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor", "cursor is not valid"))
        })
        .transpose()?;
    let filter = AuditFilter {
        organization_id,
        aggregate_type: q.aggregate_type,
        aggregate_id: q.aggregate_id,
        event_type: q.event_type,
        since: q.since.map(|t| parse_time("since", &t)).transpose()?,
        until: q.until.map(|t| parse_time("until", &t)).transpose()?,
        cursor,
        limit,
    };
    let (entries, next) = read::audit_page(&app.db, &filter).await?;
    let events = entries
        .into_iter()
        .map(|e| AuditEvent {
            payload: redact(e.event.payload_json()),
            metadata: e.event.metadata_json(),
            position: e.event.position,
            organization_id: e.organization_id,
            aggregate_type: e.event.aggregate_type,
            aggregate_id: e.event.aggregate_id,
            sequence: e.event.sequence,
            event_type: e.event.event_type,
            event_version: e.event.event_version,
            recorded_at: time(e.event.recorded_at),
        })
        .collect();
    Ok(JsonOut(AuditPage {
        events,
        next_cursor: next.map(|c| c.to_string()),
    }))
}
