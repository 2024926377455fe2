//! A project's events: what its commands write and its state replays.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::fallbacks::Fallbacks;
use crate::period::{PeriodBudget, RateLimits};
use crate::types::ProjectMode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ProjectEvent {
    ProjectCreated {
        organization_id: String,
        name: String,
        description: String,
        mode: ProjectMode,
        caching_enabled: bool,
        cache_duration_seconds: u32,
    },
    ProjectRenamed {
        name: String,
    },
    ProjectDescriptionChanged {
        description: String,
    },
    ModeChanged {
        mode: ProjectMode,
    },
    CachingConfigured {
        enabled: bool,
        duration_seconds: u32,
    },
    ProviderKeyAdded {
        provider_key_id: String,
        provider: String,
        name: Option<String>,
        base_url: Option<String>,
        encrypted_key: String,
        last4: String,
    },
    ProviderKeyDisabled {
        provider_key_id: String,
    },
    ProviderKeyEnabled {
        provider_key_id: String,
    },
    ProviderKeyRemoved {
        provider_key_id: String,
    },
    ProjectArchived,
    /// A spend limit renewed each period for all the project's keys; `None` clears it.
    ProjectPeriodBudgetSet {
        budget: Option<PeriodBudget>,
    },
    /// Requests and tokens per minute for all the project's keys; both absent: none.
    ProjectRateLimitsSet {
        limits: RateLimits,
    },
    /// The default fallback chains, all of them (empty: none).
    ProjectFallbacksSet {
        fallbacks: Fallbacks,
    },
}

impl DomainEvent for ProjectEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProjectCreated { .. } => "ProjectCreated",
            Self::ProjectRenamed { .. } => "ProjectRenamed",
            Self::ProjectDescriptionChanged { .. } => "ProjectDescriptionChanged",
            Self::ModeChanged { .. } => "ModeChanged",
            Self::CachingConfigured { .. } => "CachingConfigured",
            Self::ProviderKeyAdded { .. } => "ProviderKeyAdded",
            Self::ProviderKeyDisabled { .. } => "ProviderKeyDisabled",
            Self::ProviderKeyEnabled { .. } => "ProviderKeyEnabled",
            Self::ProviderKeyRemoved { .. } => "ProviderKeyRemoved",
            Self::ProjectArchived => "ProjectArchived",
            Self::ProjectPeriodBudgetSet { .. } => "ProjectPeriodBudgetSet",
            Self::ProjectRateLimitsSet { .. } => "ProjectRateLimitsSet",
            Self::ProjectFallbacksSet { .. } => "ProjectFallbacksSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}
