//! The command path's vocabulary: who issued a command (stored with every event) and how a
//! command can fail. The management API maps a `CommandError` to its HTTP answer
//! (`api::error`); the command line reports it as it is.

use std::collections::HashMap;

use cqrs_es::AggregateError;
use tollgate_aggregates::DomainError;

/// Who issued a command and in which request: stored with every event.
#[derive(Debug, Clone)]
pub struct Meta {
    pub actor: String,
    pub request_id: String,
}

impl Meta {
    pub(crate) fn to_map(&self) -> HashMap<String, String> {
        HashMap::from([
            ("actor".to_string(), self.actor.clone()),
            ("request_id".to_string(), self.request_id.clone()),
            (
                "time".to_string(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            ),
        ])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The aggregate refused the command (invalid, not found, a rule's conflict).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The command kept losing optimistic-lock races to concurrent writers.
    #[error("the resource was changed concurrently; retry the request")]
    Concurrent,
    /// The event store or the read models failed.
    #[error("storage: {0}")]
    Storage(String),
}

impl From<AggregateError<DomainError>> for CommandError {
    fn from(e: AggregateError<DomainError>) -> Self {
        match e {
            AggregateError::UserError(e) => Self::Domain(e),
            AggregateError::AggregateConflict => Self::Concurrent,
            other => Self::Storage(other.to_string()),
        }
    }
}

impl From<tollgate_projections::Error> for CommandError {
    fn from(e: tollgate_projections::Error) -> Self {
        Self::Storage(e.to_string())
    }
}
