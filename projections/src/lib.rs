//! Read models of tollgate, built from the event log.
//!
//! The projector reads events in global order after its checkpoint and writes typed tables
//! in the same transaction as the checkpoint. Queries over those tables live in `read`.
#![forbid(unsafe_code)]

mod append;
pub mod counters;
pub mod db;
pub mod events;
pub mod indexes;
pub mod projector;
pub mod read;
pub mod rollup;
mod write;

pub use append::UsageAppend;
pub use db::{Backend, Db};
pub use events::StoredEvent;
pub use projector::{AppendError, Projector};

/// Errors of the read side: the database, or an event the projector cannot decode.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    UnsupportedUrl(String),
    #[error("event {position} cannot be decoded: {reason}")]
    Decode { position: i64, reason: String },
    #[error("read model column {column} holds an unknown value {value:?}")]
    UnknownValue { column: &'static str, value: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
