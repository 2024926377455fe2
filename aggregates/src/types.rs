//! Value types shared by commands, events and read models.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Default and bounds of a project's response cache, in seconds (10 s to one year).
pub const CACHE_DURATION_DEFAULT: u32 = 60;
pub const CACHE_DURATION_MIN: u32 = 10;
pub const CACHE_DURATION_MAX: u32 = 31_536_000;
pub const DEFAULT_PROJECT_LIMIT: u32 = 10;
/// Money is kept in nano-USD (1e-9 USD) so per-token prices stay exact in integers.
pub const NANOS_PER_USD: i64 = 1_000_000_000;
/// The most money any amount, balance or total may hold: $1,000,000,000 (1e18 nano-USD), far
/// below `i64::MAX` (~9.2e18), so that the sum of two amounts in range never wraps.
pub const MAX_NANOS: i64 = 1_000_000_000 * NANOS_PER_USD;

/// `v` brought into `[-MAX_NANOS, MAX_NANOS]`.
pub fn clamp_nanos(v: i64) -> i64 {
    v.clamp(-MAX_NANOS, MAX_NANOS)
}

/// `a + b` in money: saturating, and kept within `[-MAX_NANOS, MAX_NANOS]`.
pub fn add_nanos(a: i64, b: i64) -> i64 {
    clamp_nanos(a.saturating_add(b))
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectMode {
    ApiKeys,
    Credits,
    #[default]
    Hybrid,
}

impl ProjectMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKeys => "api-keys",
            Self::Credits => "credits",
            Self::Hybrid => "hybrid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api-keys" => Some(Self::ApiKeys),
            "credits" => Some(Self::Credits),
            "hybrid" => Some(Self::Hybrid),
            _ => None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Developer,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "developer" => Some(Self::Developer),
            _ => None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    #[default]
    Active,
    Disabled,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PricingType {
    Free,
    Paid,
}

/// One IAM rule of an API key. Evaluated by the proxy against the model and the provider it routes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IamRule {
    AllowModels {
        models: Vec<String>,
    },
    DenyModels {
        models: Vec<String>,
    },
    AllowProviders {
        providers: Vec<String>,
    },
    DenyProviders {
        providers: Vec<String>,
    },
    AllowPricing {
        pricing_type: PricingType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_input_usd_per_mtok: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_output_usd_per_mtok: Option<f64>,
    },
    DenyPricing {
        pricing_type: PricingType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_input_usd_per_mtok: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_output_usd_per_mtok: Option<f64>,
    },
}

pub const MAX_IAM_RULES: usize = 100;

impl IamRule {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AllowModels { .. } => "allow_models",
            Self::DenyModels { .. } => "deny_models",
            Self::AllowProviders { .. } => "allow_providers",
            Self::DenyProviders { .. } => "deny_providers",
            Self::AllowPricing { .. } => "allow_pricing",
            Self::DenyPricing { .. } => "deny_pricing",
        }
    }

    /// Rejects empty lists, blank names and negative or non-finite prices.
    pub fn validate(&self) -> Result<(), DomainError> {
        match self {
            Self::AllowModels { models: list }
            | Self::DenyModels { models: list }
            | Self::AllowProviders { providers: list }
            | Self::DenyProviders { providers: list } => {
                if list.is_empty() {
                    return Err(DomainError::invalid(
                        "rules",
                        format!("{} needs at least one entry", self.kind()),
                    ));
                }
                if list.iter().any(|s| s.trim().is_empty() || s.len() > 255) {
                    return Err(DomainError::invalid(
                        "rules",
                        format!("{} entries must be 1-255 characters", self.kind()),
                    ));
                }
            }
            Self::AllowPricing {
                max_input_usd_per_mtok: i,
                max_output_usd_per_mtok: o,
                ..
            }
            | Self::DenyPricing {
                max_input_usd_per_mtok: i,
                max_output_usd_per_mtok: o,
                ..
            } => {
                for v in [i, o].into_iter().flatten() {
                    if !v.is_finite() || *v < 0.0 {
                        return Err(DomainError::invalid(
                            "rules",
                            format!("{} prices must be finite and not negative", self.kind()),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks a human-facing name: trimmed, 1 to 255 characters, on one line (no control
/// characters: NUL cannot even be stored in Postgres text).
pub fn validate_name(param: &'static str, name: &str) -> Result<(), DomainError> {
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            param,
            format!("{param} must not contain control characters"),
        ));
    }
    let n = name.trim().chars().count();
    if n == 0 || n > 255 || name.chars().count() > 255 {
        return Err(DomainError::invalid(
            param,
            format!("{param} must be 1-255 characters"),
        ));
    }
    Ok(())
}

/// Checks free text (descriptions): at most 1,000 characters.
pub fn validate_text(param: &'static str, text: &str) -> Result<(), DomainError> {
    if text.contains('\0') {
        return Err(DomainError::invalid(
            param,
            format!("{param} must not contain NUL characters"),
        ));
    }
    if text.chars().count() > 1000 {
        return Err(DomainError::invalid(
            param,
            format!("{param} must be at most 1000 characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_line_and_text_holds_no_nul() {
        assert!(validate_name("name", "Acme Labs").is_ok());
        for bad in ["a\0b", "two\nlines", "tab\there", "", "   "] {
            assert!(validate_name("name", bad).is_err(), "{bad:?}");
        }
        assert!(validate_text("description", "line one\nline two\ttabbed").is_ok());
        assert!(validate_text("description", "nul\0").is_err());
    }
}
