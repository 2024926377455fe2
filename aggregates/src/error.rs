//! One error type for every aggregate: the API maps its three kinds to 400, 404 and 409.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field breaks a rule; `param` names the field as the API spells it.
    #[error("{message}")]
    Invalid {
        param: &'static str,
        message: String,
    },
    /// The aggregate (or an entity inside it) does not exist or was deleted.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The command is valid but conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}

impl DomainError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            param,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
