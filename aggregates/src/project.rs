//! Project: settings (name, description, mode, caching), provider keys, archival.

use std::collections::BTreeMap;
use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::fallbacks::{validate as validate_fallbacks, Fallbacks};
use crate::period::{PeriodBudget, RateLimits};
use crate::types::{
    validate_name, validate_text, ProjectMode, CACHE_DURATION_DEFAULT, CACHE_DURATION_MAX,
    CACHE_DURATION_MIN,
};
use crate::{DomainError, DomainServices};

#[path = "project_events.rs"]
mod events;
pub use events::ProjectEvent;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProjectCommand {
    Create {
        organization_id: String,
        name: String,
        description: String,
        mode: ProjectMode,
        caching_enabled: bool,
        cache_duration_seconds: Option<u32>,
        period_budget: Option<PeriodBudget>,
        rate_limits: RateLimits,
        fallbacks: Fallbacks,
    },
    /// A PATCH: every given field is changed in one atomic commit.
    Update {
        name: Option<String>,
        description: Option<String>,
        mode: Option<ProjectMode>,
        caching_enabled: Option<bool>,
        cache_duration_seconds: Option<u32>,
        /// `Some(None)` clears the period budget.
        period_budget: Option<Option<PeriodBudget>>,
        /// Replaces both limits (`Some(RateLimits::default())` clears them).
        rate_limits: Option<RateLimits>,
        /// Replaces every chain (`Some` of an empty map clears them).
        fallbacks: Option<Fallbacks>,
    },
    AddProviderKey {
        provider_key_id: String,
        provider: String,
        name: Option<String>,
        base_url: Option<String>,
        /// AES-GCM ciphertext (base64 of nonce || ciphertext); encrypted by the service.
        encrypted_key: String,
        last4: String,
    },
    SetProviderKeyEnabled {
        provider_key_id: String,
        enabled: bool,
    },
    RemoveProviderKey {
        provider_key_id: String,
    },
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderKeyState {
    pub provider: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Project {
    pub created: bool,
    pub archived: bool,
    pub organization_id: String,
    pub name: String,
    pub description: String,
    pub mode: ProjectMode,
    pub caching_enabled: bool,
    pub cache_duration_seconds: u32,
    pub provider_keys: BTreeMap<String, ProviderKeyState>,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
    #[serde(default)]
    pub fallbacks: Fallbacks,
}

pub const MAX_PROVIDER_KEYS: usize = 100;

fn validate_duration(seconds: u32) -> Result<(), DomainError> {
    if !(CACHE_DURATION_MIN..=CACHE_DURATION_MAX).contains(&seconds) {
        return Err(DomainError::invalid(
            "cache_duration_seconds",
            format!(
                "cache_duration_seconds must be {CACHE_DURATION_MIN}-{CACHE_DURATION_MAX} seconds"
            ),
        ));
    }
    Ok(())
}

fn validate_base_url(url: &str) -> Result<(), DomainError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && url.len() <= 2048 && !url.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(DomainError::invalid(
            "base_url",
            "base_url must be an http(s) URL",
        )),
    }
}

/// The checks of `Create`, callable before the organization's project slot is taken.
pub fn validate_new(
    name: &str,
    description: &str,
    cache_duration_seconds: Option<u32>,
) -> Result<(), DomainError> {
    validate_name("name", name)?;
    validate_text("description", description)?;
    validate_duration(cache_duration_seconds.unwrap_or(CACHE_DURATION_DEFAULT))
}

impl Project {
    fn provider_key(&self, id: &str) -> Result<&ProviderKeyState, DomainError> {
        self.provider_keys
            .get(id)
            .ok_or(DomainError::NotFound("provider key"))
    }
}

impl Aggregate for Project {
    const TYPE: &'static str = "Project";
    type Command = ProjectCommand;
    type Event = ProjectEvent;
    type Error = DomainError;
    type Services = Arc<dyn DomainServices>;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use ProjectCommand as C;
        use ProjectEvent as E;
        if let C::Create {
            organization_id,
            name,
            description,
            mode,
            caching_enabled,
            cache_duration_seconds,
            period_budget,
            rate_limits,
            fallbacks,
        } = command
        {
            if self.created {
                return Err(DomainError::conflict(
                    "already_exists",
                    "project already exists",
                ));
            }
            validate_new(&name, &description, cache_duration_seconds)?;
            if let Some(b) = &period_budget {
                b.validate()?;
            }
            rate_limits.validate()?;
            validate_fallbacks(&fallbacks)?;
            let cache_duration_seconds = cache_duration_seconds.unwrap_or(CACHE_DURATION_DEFAULT);
            let event = E::ProjectCreated {
                organization_id,
                name: name.trim().to_string(),
                description,
                mode,
                caching_enabled,
                cache_duration_seconds,
            };
            sink.write(event, self).await;
            if let Some(budget) = period_budget {
                let event = E::ProjectPeriodBudgetSet {
                    budget: Some(budget),
                };
                sink.write(event, self).await;
            }
            if !rate_limits.is_empty() {
                let event = E::ProjectRateLimitsSet {
                    limits: rate_limits,
                };
                sink.write(event, self).await;
            }
            if !fallbacks.is_empty() {
                sink.write(E::ProjectFallbacksSet { fallbacks }, self).await;
            }
            return Ok(());
        }
        if !self.created || self.archived {
            return Err(DomainError::NotFound("project"));
        }
        let mut events = Vec::new();
        match command {
            C::Create { .. } => unreachable!("handled above"),
            C::Update {
                name,
                description,
                mode,
                caching_enabled,
                cache_duration_seconds,
                period_budget,
                rate_limits,
                fallbacks,
            } => {
                if let Some(fallbacks) = fallbacks.filter(|f| *f != self.fallbacks) {
                    validate_fallbacks(&fallbacks)?;
                    events.push(E::ProjectFallbacksSet { fallbacks });
                }
                if let Some(limits) = rate_limits.filter(|l| *l != self.rate_limits) {
                    limits.validate()?;
                    events.push(E::ProjectRateLimitsSet { limits });
                }
                if let Some(budget) = period_budget.filter(|b| *b != self.period_budget) {
                    if let Some(b) = &budget {
                        b.validate()?;
                    }
                    events.push(E::ProjectPeriodBudgetSet { budget });
                }
                if let Some(name) = name {
                    validate_name("name", &name)?;
                    let name = name.trim().to_string();
                    if name != self.name {
                        events.push(E::ProjectRenamed { name });
                    }
                }
                if let Some(description) = description {
                    validate_text("description", &description)?;
                    if description != self.description {
                        events.push(E::ProjectDescriptionChanged { description });
                    }
                }
                if let Some(mode) = mode.filter(|m| *m != self.mode) {
                    events.push(E::ModeChanged { mode });
                }
                if let Some(d) = cache_duration_seconds {
                    validate_duration(d)?;
                }
                let enabled = caching_enabled.unwrap_or(self.caching_enabled);
                let duration_seconds =
                    cache_duration_seconds.unwrap_or(self.cache_duration_seconds);
                if enabled != self.caching_enabled
                    || duration_seconds != self.cache_duration_seconds
                {
                    events.push(E::CachingConfigured {
                        enabled,
                        duration_seconds,
                    });
                }
            }
            C::AddProviderKey {
                provider_key_id,
                provider,
                name,
                base_url,
                encrypted_key,
                last4,
            } => {
                if !services.is_known_provider(&provider) {
                    return Err(DomainError::invalid(
                        "provider",
                        format!("unknown provider '{provider}'"),
                    ));
                }
                if let Some(n) = &name {
                    validate_name("name", n)?;
                }
                if let Some(url) = &base_url {
                    validate_base_url(url)?;
                } else if provider == crate::Provider::Custom.id() {
                    return Err(DomainError::invalid(
                        "base_url",
                        "base_url is required for the custom provider",
                    ));
                }
                if self.provider_keys.len() >= MAX_PROVIDER_KEYS {
                    return Err(DomainError::conflict(
                        "provider_key_limit_reached",
                        format!("a project holds at most {MAX_PROVIDER_KEYS} provider keys"),
                    ));
                }
                events.push(E::ProviderKeyAdded {
                    provider_key_id,
                    provider,
                    name,
                    base_url,
                    encrypted_key,
                    last4,
                });
            }
            C::SetProviderKeyEnabled {
                provider_key_id,
                enabled,
            } => {
                if self.provider_key(&provider_key_id)?.enabled != enabled {
                    events.push(if enabled {
                        E::ProviderKeyEnabled { provider_key_id }
                    } else {
                        E::ProviderKeyDisabled { provider_key_id }
                    });
                }
            }
            C::RemoveProviderKey { provider_key_id } => {
                self.provider_key(&provider_key_id)?;
                events.push(E::ProviderKeyRemoved { provider_key_id });
            }
            C::Archive => events.push(E::ProjectArchived),
        }
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use ProjectEvent as E;
        match event {
            E::ProjectCreated {
                organization_id,
                name,
                description,
                mode,
                caching_enabled,
                cache_duration_seconds,
            } => {
                self.created = true;
                self.organization_id = organization_id;
                self.name = name;
                self.description = description;
                self.mode = mode;
                self.caching_enabled = caching_enabled;
                self.cache_duration_seconds = cache_duration_seconds;
            }
            E::ProjectRenamed { name } => self.name = name,
            E::ProjectDescriptionChanged { description } => self.description = description,
            E::ModeChanged { mode } => self.mode = mode,
            E::CachingConfigured {
                enabled,
                duration_seconds,
            } => {
                self.caching_enabled = enabled;
                self.cache_duration_seconds = duration_seconds;
            }
            E::ProviderKeyAdded {
                provider_key_id,
                provider,
                ..
            } => {
                self.provider_keys.insert(
                    provider_key_id,
                    ProviderKeyState {
                        provider,
                        enabled: true,
                    },
                );
            }
            E::ProviderKeyDisabled { provider_key_id } => {
                if let Some(k) = self.provider_keys.get_mut(&provider_key_id) {
                    k.enabled = false;
                }
            }
            E::ProviderKeyEnabled { provider_key_id } => {
                if let Some(k) = self.provider_keys.get_mut(&provider_key_id) {
                    k.enabled = true;
                }
            }
            E::ProviderKeyRemoved { provider_key_id } => {
                self.provider_keys.remove(&provider_key_id);
            }
            E::ProjectArchived => self.archived = true,
            E::ProjectPeriodBudgetSet { budget } => self.period_budget = budget,
            E::ProjectRateLimitsSet { limits } => self.rate_limits = limits,
            E::ProjectFallbacksSet { fallbacks } => self.fallbacks = fallbacks,
        }
    }
}

#[cfg(test)]
#[path = "project_tests.rs"]
mod tests;
