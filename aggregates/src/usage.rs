//! Usage: one `UsageRecord` per proxied request, success or failure, appended in batches.
//!
//! Usage has no invariants to decide, so it is not a cqrs-es aggregate: each gateway process
//! appends to a stream of its own (`Usage` / `<instance id>`) through a single batch writer,
//! so request traffic never races management commands (or other replicas) on a version. One
//! `UsageRecorded` event holds one flush's records of one organization (so the audit trail
//! stays scoped by organization), at most `MAX_RECORDS_PER_EVENT`.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

pub const USAGE_AGGREGATE_TYPE: &str = "Usage";
pub const MAX_RECORDS_PER_EVENT: usize = 1000;

/// How the request was paid for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PaidWith {
    /// The project's own provider key: no gateway fee.
    OwnKey,
    /// The gateway's credentials, charged to the organization's credits with the fee.
    Credits,
    /// Nothing was forwarded (cache hit, or refused before any upstream call).
    #[default]
    None,
}

impl PaidWith {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnKey => "own_key",
            Self::Credits => "credits",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsageRecord {
    pub request_id: String,
    pub organization_id: String,
    pub project_id: String,
    pub key_id: String,
    /// `chat` or `embeddings`.
    pub endpoint: String,
    pub requested_model: String,
    /// The catalog model actually used (empty when none was resolved).
    pub model: String,
    pub provider: String,
    pub paid_with: PaidWith,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    /// Catalog price of the tokens, nano-USD.
    pub cost_nano_usd: i64,
    /// Gateway fee on credits, nano-USD.
    pub fee_nano_usd: i64,
    /// Token counts were estimated (the provider reported none).
    pub estimated: bool,
    /// Served from the response cache (costs nothing).
    pub cached: bool,
    pub streamed: bool,
    /// HTTP status returned to the client.
    pub status: u16,
    pub error_code: Option<String>,
    pub latency_ms: u64,
    pub time_to_first_token_ms: Option<u64>,
    /// Microseconds since the Unix epoch when the request arrived.
    pub started_at: i64,
    /// Prompt tokens written to the provider's prompt cache (inside `prompt_tokens`, priced at
    /// the cache-write rate). Absent from events recorded before it existed.
    #[serde(default)]
    pub cache_creation_tokens: u64,
}

impl UsageRecord {
    /// Cost and fee, summed without wrapping (within the money ceiling).
    pub fn total_nano_usd(&self) -> i64 {
        crate::types::add_nanos(self.cost_nano_usd, self.fee_nano_usd)
    }

    /// What the organization's credit balance is charged (only for credits).
    pub fn charged_to_credits(&self) -> i64 {
        match self.paid_with {
            PaidWith::Credits => self.total_nano_usd(),
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum UsageEvent {
    UsageRecorded { records: Vec<UsageRecord> },
}

impl DomainEvent for UsageEvent {
    fn event_type(&self) -> String {
        "UsageRecorded".to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
