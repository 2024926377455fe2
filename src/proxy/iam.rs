//! IAM rules of a key, evaluated against the model and the provider actually chosen (also
//! when routing chose it) and that provider's prices for the model.

use tollgate_aggregates::types::{IamRule, PricingType};
use tollgate_aggregates::Provider;

use super::catalog::{ModelEntry, ProviderOffer};

/// Whether `name` matches the model: `provider/model` (a known provider id before the slash)
/// only from that provider; otherwise the catalog id or the provider's own model name.
fn model_matches(name: &str, model: &ModelEntry, offer: &ProviderOffer) -> bool {
    if let Some((p, m)) = name.split_once('/') {
        if let Some(p) = Provider::parse(p) {
            return p == offer.provider && (m == model.id || m == offer.model);
        }
    }
    name == model.id || name == offer.model
}

fn pricing_matches(
    pricing_type: PricingType,
    max_in: Option<f64>,
    max_out: Option<f64>,
    offer: &ProviderOffer,
) -> bool {
    match pricing_type {
        PricingType::Free => offer.is_free(),
        PricingType::Paid => {
            !offer.is_free()
                && max_in.is_none_or(|m| offer.input_usd_per_mtok <= m)
                && max_out.is_none_or(|m| offer.output_usd_per_mtok <= m)
        }
    }
}

/// `Ok` when the rules allow this model from this provider; otherwise the reason, naming
/// the rule. Deny rules win; when rules of an allow kind exist, one of them must match.
pub fn check(rules: &[IamRule], model: &ModelEntry, offer: &ProviderOffer) -> Result<(), String> {
    let mut allow_kinds: [(bool, bool); 3] = [(false, false); 3]; // (present, matched) per kind
    for (i, rule) in rules.iter().enumerate() {
        let denied = |what: &str| {
            Err(format!(
                "denied by IAM rule {} ({}): {what}",
                i + 1,
                rule.kind()
            ))
        };
        match rule {
            IamRule::DenyModels { models }
                if models.iter().any(|m| model_matches(m, model, offer)) =>
            {
                return denied(&format!("model '{}' is denied", model.id));
            }
            IamRule::DenyProviders { providers }
                if providers.iter().any(|p| p == offer.provider.id()) =>
            {
                return denied(&format!("provider '{}' is denied", offer.provider));
            }
            IamRule::DenyPricing {
                pricing_type,
                max_input_usd_per_mtok,
                max_output_usd_per_mtok,
            } if pricing_matches(
                *pricing_type,
                *max_input_usd_per_mtok,
                *max_output_usd_per_mtok,
                offer,
            ) =>
            {
                return denied(&format!(
                    "{} pricing of '{}' is denied",
                    offer.provider, model.id
                ));
            }
            IamRule::AllowModels { models } => {
                allow_kinds[0].0 = true;
                allow_kinds[0].1 |= models.iter().any(|m| model_matches(m, model, offer));
            }
            IamRule::AllowProviders { providers } => {
                allow_kinds[1].0 = true;
                allow_kinds[1].1 |= providers.iter().any(|p| p == offer.provider.id());
            }
            IamRule::AllowPricing {
                pricing_type,
                max_input_usd_per_mtok,
                max_output_usd_per_mtok,
            } => {
                allow_kinds[2].0 = true;
                allow_kinds[2].1 |= pricing_matches(
                    *pricing_type,
                    *max_input_usd_per_mtok,
                    *max_output_usd_per_mtok,
                    offer,
                );
            }
            _ => {}
        }
    }
    let names = ["allow_models", "allow_providers", "allow_pricing"];
    for ((present, matched), kind) in allow_kinds.iter().zip(names) {
        if *present && !matched {
            return Err(format!(
                "denied by IAM rules ({kind}): '{}' from provider '{}' is not allowed",
                model.id, offer.provider
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
