//! tollgate's domain as event-sourced aggregates (cqrs-es 0.5).
//!
//! Pure: no database, HTTP or clock. Time and identifiers arrive inside commands so that
//! handlers stay deterministic and testable with `TestFramework`.
#![forbid(unsafe_code)]

pub mod alert;
pub mod api_key;
pub mod error;
pub mod fallbacks;
pub mod organization;
pub mod period;
pub mod project;
pub mod provider;
pub mod services;
pub mod types;
pub mod usage;
pub mod usage_json;
pub mod webhook;

pub use error::DomainError;
pub use provider::Provider;
pub use services::DomainServices;

/// JSON Schemas of every aggregate's events, keyed by aggregate type (`schemas/events/`).
pub fn event_schemas() -> Vec<(&'static str, schemars::Schema)> {
    use cqrs_es::Aggregate;
    vec![
        (
            organization::Organization::TYPE,
            schemars::schema_for!(organization::OrganizationEvent),
        ),
        (
            project::Project::TYPE,
            schemars::schema_for!(project::ProjectEvent),
        ),
        (
            api_key::ApiKey::TYPE,
            schemars::schema_for!(api_key::ApiKeyEvent),
        ),
        (
            usage::USAGE_AGGREGATE_TYPE,
            schemars::schema_for!(usage::UsageEvent),
        ),
        (
            webhook::Webhook::TYPE,
            schemars::schema_for!(webhook::WebhookEvent),
        ),
        (alert::Alert::TYPE, schemars::schema_for!(alert::AlertEvent)),
    ]
}
