use tollgate_aggregates::types::{IamRule, PricingType};

use super::check;
use crate::proxy::catalog::Catalog;

fn catalog() -> Catalog {
    Catalog::embedded().expect("catalog")
}

fn models(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_rule_type_allows_and_denies() {
    let c = catalog();
    let (gpt, offers) = c.resolve("gpt-4o").unwrap();
    let openai = offers
        .iter()
        .find(|o| o.provider == tollgate_aggregates::Provider::OpenAi)
        .unwrap();
    let (free, free_offers) = c.resolve("llama-3.3-70b-instruct-free").unwrap();
    let free_offer = &free_offers[0];

    assert!(check(&[], &gpt, openai).is_ok());
    let allow_models = IamRule::AllowModels {
        models: models(&["openai/gpt-4o"]),
    };
    assert!(check(std::slice::from_ref(&allow_models), &gpt, openai).is_ok());
    assert!(check(&[allow_models], &free, free_offer)
        .unwrap_err()
        .contains("allow_models"));

    let deny_models = IamRule::DenyModels {
        models: models(&["gpt-4o"]),
    };
    assert!(check(&[deny_models], &gpt, openai)
        .unwrap_err()
        .contains("rule 1 (deny_models)"));

    let allow_providers = IamRule::AllowProviders {
        providers: models(&["anthropic"]),
    };
    assert!(check(&[allow_providers], &gpt, openai)
        .unwrap_err()
        .contains("allow_providers"));
    let deny_providers = IamRule::DenyProviders {
        providers: models(&["openai"]),
    };
    assert!(check(&[deny_providers], &gpt, openai)
        .unwrap_err()
        .contains("deny_providers"));

    let only_free = IamRule::AllowPricing {
        pricing_type: PricingType::Free,
        max_input_usd_per_mtok: None,
        max_output_usd_per_mtok: None,
    };
    assert!(check(std::slice::from_ref(&only_free), &free, free_offer).is_ok());
    assert!(check(&[only_free], &gpt, openai)
        .unwrap_err()
        .contains("allow_pricing"));
    let cheap_paid = IamRule::AllowPricing {
        pricing_type: PricingType::Paid,
        max_input_usd_per_mtok: Some(1.0),
        max_output_usd_per_mtok: None,
    };
    assert!(
        check(&[cheap_paid], &gpt, openai).is_err(),
        "gpt-4o costs more than $1/Mtok input"
    );
    let no_free = IamRule::DenyPricing {
        pricing_type: PricingType::Free,
        max_input_usd_per_mtok: None,
        max_output_usd_per_mtok: None,
    };
    assert!(check(std::slice::from_ref(&no_free), &free, free_offer)
        .unwrap_err()
        .contains("deny_pricing"));
    assert!(check(&[no_free], &gpt, openai).is_ok());
}

#[test]
fn deny_wins_over_allow() {
    let c = catalog();
    let (gpt, offers) = c.resolve("gpt-4o").unwrap();
    let rules = [
        IamRule::AllowModels {
            models: models(&["gpt-4o"]),
        },
        IamRule::DenyProviders {
            providers: models(&["openai"]),
        },
    ];
    let openai = offers
        .iter()
        .find(|o| o.provider == tollgate_aggregates::Provider::OpenAi)
        .unwrap();
    assert!(check(&rules, &gpt, openai).is_err());
}
