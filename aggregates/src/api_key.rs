//! ApiKey: a project's key for the proxy. Holds the SHA-256 of its token, never the token.
//!
//! Usage will be appended to this stream by the proxy's single batch writer per key
//! (`UsageRecorded` in batches), so request traffic never races management commands here
//! on the aggregate version more than once per flush.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::period::{PeriodBudget, RateLimits};
use crate::types::{validate_text, IamRule, KeyStatus, MAX_IAM_RULES};
use crate::DomainError;

/// Longest grace period for a rotated token: 30 days.
pub const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyCommand {
    Create {
        project_id: String,
        organization_id: String,
        description: String,
        token_hash: String,
        prefix: String,
        usage_limit_nano_usd: Option<i64>,
        /// Member id, or `admin` for the gateway admin.
        created_by: String,
        /// When the key stops working (Unix seconds).
        expires_at: Option<i64>,
        period_budget: Option<PeriodBudget>,
        rate_limits: RateLimits,
    },
    Update {
        description: Option<String>,
        status: Option<KeyStatus>,
        /// `Some(None)` clears the limit.
        usage_limit_nano_usd: Option<Option<i64>>,
        /// `Some(None)`: the key no longer expires.
        expires_at: Option<Option<i64>>,
        /// `Some(None)` clears the period budget.
        period_budget: Option<Option<PeriodBudget>>,
        /// Replaces both limits (`Some(RateLimits::default())` clears them).
        rate_limits: Option<RateLimits>,
    },
    Rotate {
        token_hash: String,
        prefix: String,
        grace_seconds: Option<u64>,
        /// Unix seconds at the time of the command.
        now: i64,
    },
    SetIamRules {
        rules: Vec<IamRule>,
    },
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ApiKeyEvent {
    ApiKeyCreated {
        project_id: String,
        organization_id: String,
        description: String,
        token_hash: String,
        prefix: String,
        usage_limit_nano_usd: Option<i64>,
        created_by: String,
    },
    KeyDescriptionChanged {
        description: String,
    },
    UsageLimitSet {
        usage_limit_nano_usd: Option<i64>,
    },
    KeyStatusChanged {
        status: KeyStatus,
    },
    KeyRotated {
        token_hash: String,
        prefix: String,
        previous_token_hash: String,
        /// Unix seconds until which the previous token still works; `None`: it stopped at once.
        previous_valid_until: Option<i64>,
    },
    IamRulesSet {
        rules: Vec<IamRule>,
    },
    KeyRevoked,
    /// The key stops working at `expires_at` (Unix seconds); `None`: it does not expire.
    KeyExpirySet {
        expires_at: Option<i64>,
    },
    /// A spend limit renewed each period, beside the lifetime limit; `None` clears it.
    KeyPeriodBudgetSet {
        budget: Option<PeriodBudget>,
    },
    /// Requests and tokens per minute; both absent: no rate limit.
    KeyRateLimitsSet {
        limits: RateLimits,
    },
}

impl DomainEvent for ApiKeyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ApiKeyCreated { .. } => "ApiKeyCreated",
            Self::KeyDescriptionChanged { .. } => "KeyDescriptionChanged",
            Self::UsageLimitSet { .. } => "UsageLimitSet",
            Self::KeyStatusChanged { .. } => "KeyStatusChanged",
            Self::KeyRotated { .. } => "KeyRotated",
            Self::IamRulesSet { .. } => "IamRulesSet",
            Self::KeyRevoked => "KeyRevoked",
            Self::KeyExpirySet { .. } => "KeyExpirySet",
            Self::KeyPeriodBudgetSet { .. } => "KeyPeriodBudgetSet",
            Self::KeyRateLimitsSet { .. } => "KeyRateLimitsSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiKey {
    pub created: bool,
    pub revoked: bool,
    pub project_id: String,
    pub organization_id: String,
    pub description: String,
    pub prefix: String,
    pub token_hash: String,
    pub status: KeyStatus,
    pub usage_limit_nano_usd: Option<i64>,
    pub created_by: String,
    pub rules: Vec<IamRule>,
    pub expires_at: Option<i64>,
    pub period_budget: Option<PeriodBudget>,
    pub rate_limits: RateLimits,
}

fn validate_limit(limit: Option<i64>) -> Result<(), DomainError> {
    if limit.is_some_and(|l| l < 0) {
        return Err(DomainError::invalid(
            "usage_limit_usd",
            "usage_limit_usd must not be negative",
        ));
    }
    Ok(())
}

/// An expiry time a person could mean: after 1970, before the year 10,000.
fn validate_expiry(at: i64) -> Result<(), DomainError> {
    if !(1..253_402_300_800).contains(&at) {
        return Err(DomainError::invalid(
            "expires_at",
            "expires_at must be a date between 1970 and 9999",
        ));
    }
    Ok(())
}

impl Aggregate for ApiKey {
    const TYPE: &'static str = "ApiKey";
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use ApiKeyCommand as C;
        use ApiKeyEvent as E;
        if !matches!(command, C::Create { .. }) && (!self.created || self.revoked) {
            return Err(DomainError::NotFound("key"));
        }
        let mut events = Vec::new();
        match command {
            C::Create {
                project_id,
                organization_id,
                description,
                token_hash,
                prefix,
                usage_limit_nano_usd,
                created_by,
                expires_at,
                period_budget,
                rate_limits,
            } => {
                if self.created {
                    return Err(DomainError::conflict(
                        "already_exists",
                        "key already exists",
                    ));
                }
                validate_text("description", &description)?;
                validate_limit(usage_limit_nano_usd)?;
                events.push(E::ApiKeyCreated {
                    project_id,
                    organization_id,
                    description,
                    token_hash,
                    prefix,
                    usage_limit_nano_usd,
                    created_by,
                });
                if let Some(at) = expires_at {
                    validate_expiry(at)?;
                    events.push(E::KeyExpirySet {
                        expires_at: Some(at),
                    });
                }
                if let Some(budget) = period_budget {
                    budget.validate()?;
                    events.push(E::KeyPeriodBudgetSet {
                        budget: Some(budget),
                    });
                }
                if !rate_limits.is_empty() {
                    rate_limits.validate()?;
                    events.push(E::KeyRateLimitsSet {
                        limits: rate_limits,
                    });
                }
            }
            C::Update {
                description,
                status,
                usage_limit_nano_usd,
                expires_at,
                period_budget,
                rate_limits,
            } => {
                if let Some(limits) = rate_limits.filter(|l| *l != self.rate_limits) {
                    limits.validate()?;
                    events.push(E::KeyRateLimitsSet { limits });
                }
                if let Some(d) = description {
                    validate_text("description", &d)?;
                    if d != self.description {
                        events.push(E::KeyDescriptionChanged { description: d });
                    }
                }
                if let Some(limit) = usage_limit_nano_usd {
                    validate_limit(limit)?;
                    if limit != self.usage_limit_nano_usd {
                        events.push(E::UsageLimitSet {
                            usage_limit_nano_usd: limit,
                        });
                    }
                }
                if let Some(s) = status.filter(|s| *s != self.status) {
                    events.push(E::KeyStatusChanged { status: s });
                }
                if let Some(at) = expires_at.filter(|at| *at != self.expires_at) {
                    if let Some(at) = at {
                        validate_expiry(at)?;
                    }
                    events.push(E::KeyExpirySet { expires_at: at });
                }
                if let Some(budget) = period_budget.filter(|b| *b != self.period_budget) {
                    if let Some(b) = &budget {
                        b.validate()?;
                    }
                    events.push(E::KeyPeriodBudgetSet { budget });
                }
            }
            C::Rotate {
                token_hash,
                prefix,
                grace_seconds,
                now,
            } => {
                let grace = grace_seconds.unwrap_or(0);
                if grace > MAX_GRACE_SECONDS {
                    return Err(DomainError::invalid(
                        "grace_seconds",
                        format!("grace_seconds must be 0-{MAX_GRACE_SECONDS}"),
                    ));
                }
                events.push(E::KeyRotated {
                    token_hash,
                    prefix,
                    previous_token_hash: self.token_hash.clone(),
                    previous_valid_until: (grace > 0).then(|| now + grace as i64),
                });
            }
            C::SetIamRules { rules } => {
                if rules.len() > MAX_IAM_RULES {
                    return Err(DomainError::invalid(
                        "rules",
                        format!("at most {MAX_IAM_RULES} rules"),
                    ));
                }
                rules.iter().try_for_each(IamRule::validate)?;
                events.push(E::IamRulesSet { rules });
            }
            C::Revoke => events.push(E::KeyRevoked),
        }
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use ApiKeyEvent as E;
        match event {
            E::ApiKeyCreated {
                project_id,
                organization_id,
                description,
                token_hash,
                prefix,
                usage_limit_nano_usd,
                created_by,
            } => {
                self.created = true;
                self.project_id = project_id;
                self.organization_id = organization_id;
                self.description = description;
                self.token_hash = token_hash;
                self.prefix = prefix;
                self.usage_limit_nano_usd = usage_limit_nano_usd;
                self.created_by = created_by;
            }
            E::KeyDescriptionChanged { description } => self.description = description,
            E::UsageLimitSet {
                usage_limit_nano_usd,
            } => self.usage_limit_nano_usd = usage_limit_nano_usd,
            E::KeyStatusChanged { status } => self.status = status,
            E::KeyRotated {
                token_hash, prefix, ..
            } => {
                self.token_hash = token_hash;
                self.prefix = prefix;
            }
            E::IamRulesSet { rules } => self.rules = rules,
            E::KeyRevoked => self.revoked = true,
            E::KeyExpirySet { expires_at } => self.expires_at = expires_at,
            E::KeyPeriodBudgetSet { budget } => self.period_budget = budget,
            E::KeyRateLimitsSet { limits } => self.rate_limits = limits,
        }
    }
}

#[cfg(test)]
#[path = "api_key_tests.rs"]
mod tests;
