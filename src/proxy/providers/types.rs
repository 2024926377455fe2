//! What every provider translation shares: token usage and translation errors.
//!
//! The gateway's canonical format is OpenAI's chat completions JSON. Each provider module
//! translates an OpenAI request into its own, and its responses and stream events back.

use serde::{Deserialize, Serialize};

/// Token counts of one upstream call, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's prompt cache (already inside `prompt_tokens`).
    pub cached_tokens: u64,
    /// Reasoning tokens (already inside `completion_tokens`).
    pub reasoning_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`, already inside `prompt_tokens`): priced at its own rate.
    #[serde(default)]
    pub cache_creation_tokens: u64,
}

/// A request the provider cannot express, or a response the gateway cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The client's request is invalid for this provider; `param` names the field.
    #[error("{message}")]
    InvalidRequest {
        param: Option<String>,
        message: String,
    },
    /// The provider answered something that is not its documented format.
    #[error("unexpected upstream response: {0}")]
    BadUpstream(String),
}

impl TranslateError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            param: Some(param.to_string()),
            message: message.into(),
        }
    }
}
