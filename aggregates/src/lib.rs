//! tollgate's domain as event-sourced aggregates (cqrs-es 0.5).
//!
//! Pure: no database, HTTP or clock. Time and identifiers arrive inside commands so that
//! handlers stay deterministic and testable with `TestFramework`.
#![forbid(unsafe_code)]

pub mod api_key;
pub mod error;
pub mod organization;
pub mod project;
pub mod services;
pub mod types;

pub use error::DomainError;
pub use services::DomainServices;
