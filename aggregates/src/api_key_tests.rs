use cqrs_es::test::TestFramework;

use super::*;
use crate::types::PricingType;

type Fixture = TestFramework<ApiKey>;

fn created() -> ApiKeyEvent {
    ApiKeyEvent::ApiKeyCreated {
        project_id: "p".into(),
        organization_id: "o".into(),
        description: "ci".into(),
        token_hash: "h1".into(),
        prefix: "sk-tg-aaaa".into(),
        usage_limit_nano_usd: None,
        created_by: "m1".into(),
    }
}

fn update(limit: Option<Option<i64>>, status: Option<KeyStatus>) -> ApiKeyCommand {
    ApiKeyCommand::Update {
        description: None,
        status,
        usage_limit_nano_usd: limit,
        expires_at: None,
        period_budget: None,
        rate_limits: Default::default(),
    }
}

fn expiry(expires_at: Option<Option<i64>>) -> ApiKeyCommand {
    ApiKeyCommand::Update {
        description: None,
        status: None,
        usage_limit_nano_usd: None,
        expires_at,
        period_budget: None,
        rate_limits: Default::default(),
    }
}

#[test]
fn expiry_is_set_changed_and_cleared_once_each() {
    let set = |at| ApiKeyEvent::KeyExpirySet { expires_at: at };
    Fixture::with(())
        .given(vec![created()])
        .when(expiry(Some(Some(1_900_000_000))))
        .then_expect_events(vec![set(Some(1_900_000_000))]);
    Fixture::with(())
        .given(vec![created(), set(Some(1_900_000_000))])
        .when(expiry(Some(Some(1_900_000_000))))
        .then_expect_events(vec![]);
    Fixture::with(())
        .given(vec![created(), set(Some(1_900_000_000))])
        .when(expiry(Some(None)))
        .then_expect_events(vec![set(None)]);
    Fixture::with(())
        .given(vec![created()])
        .when(expiry(None))
        .then_expect_events(vec![]);
}

#[test]
fn an_impossible_expiry_is_refused() {
    for at in [0, -5, 253_402_300_800] {
        let r = Fixture::with(())
            .given(vec![created()])
            .when(expiry(Some(Some(at))))
            .inspect_result();
        assert!(matches!(
            r,
            Err(DomainError::Invalid {
                param: "expires_at",
                ..
            })
        ));
    }
}

#[test]
fn negative_limit_is_rejected() {
    let r = Fixture::with(())
        .given(vec![created()])
        .when(update(Some(Some(-1)), None))
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid {
            param: "usage_limit_usd",
            ..
        })
    ));
}

#[test]
fn limit_can_be_set_and_cleared() {
    Fixture::with(())
        .given(vec![created()])
        .when(update(Some(Some(5)), None))
        .then_expect_events(vec![ApiKeyEvent::UsageLimitSet {
            usage_limit_nano_usd: Some(5),
        }]);
    Fixture::with(())
        .given(vec![
            created(),
            ApiKeyEvent::UsageLimitSet {
                usage_limit_nano_usd: Some(5),
            },
        ])
        .when(update(Some(None), None))
        .then_expect_events(vec![ApiKeyEvent::UsageLimitSet {
            usage_limit_nano_usd: None,
        }]);
}

#[test]
fn status_change_is_recorded_once() {
    Fixture::with(())
        .given(vec![created()])
        .when(update(None, Some(KeyStatus::Disabled)))
        .then_expect_events(vec![ApiKeyEvent::KeyStatusChanged {
            status: KeyStatus::Disabled,
        }]);
    Fixture::with(())
        .given(vec![created()])
        .when(update(None, Some(KeyStatus::Active)))
        .then_expect_events(vec![]);
}

#[test]
fn rotation_keeps_old_token_for_grace_period() {
    Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::Rotate {
            token_hash: "h2".into(),
            prefix: "sk-tg-bbbb".into(),
            grace_seconds: Some(300),
            now: 1_000,
        })
        .then_expect_events(vec![ApiKeyEvent::KeyRotated {
            token_hash: "h2".into(),
            prefix: "sk-tg-bbbb".into(),
            previous_token_hash: "h1".into(),
            previous_valid_until: Some(1_300),
        }]);
}

#[test]
fn rotation_without_grace_stops_old_token_at_once() {
    let r = Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::Rotate {
            token_hash: "h2".into(),
            prefix: "p".into(),
            grace_seconds: None,
            now: 1_000,
        })
        .inspect_result()
        .unwrap();
    assert!(matches!(
        &r[0],
        ApiKeyEvent::KeyRotated {
            previous_valid_until: None,
            ..
        }
    ));
}

#[test]
fn grace_over_thirty_days_is_rejected() {
    let r = Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::Rotate {
            token_hash: "h2".into(),
            prefix: "p".into(),
            grace_seconds: Some(MAX_GRACE_SECONDS + 1),
            now: 0,
        })
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid {
            param: "grace_seconds",
            ..
        })
    ));
}

#[test]
fn empty_model_list_rule_is_rejected() {
    let r = Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::SetIamRules {
            rules: vec![IamRule::AllowModels { models: vec![] }],
        })
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid { param: "rules", .. })
    ));
}

#[test]
fn negative_price_rule_is_rejected() {
    let rule = IamRule::DenyPricing {
        pricing_type: PricingType::Paid,
        max_input_usd_per_mtok: Some(-1.0),
        max_output_usd_per_mtok: None,
    };
    let r = Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::SetIamRules { rules: vec![rule] })
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid { param: "rules", .. })
    ));
}

#[test]
fn rules_are_set() {
    let rules = vec![
        IamRule::AllowProviders {
            providers: vec!["openai".into()],
        },
        IamRule::AllowPricing {
            pricing_type: PricingType::Paid,
            max_input_usd_per_mtok: Some(3.0),
            max_output_usd_per_mtok: None,
        },
    ];
    Fixture::with(())
        .given(vec![created()])
        .when(ApiKeyCommand::SetIamRules {
            rules: rules.clone(),
        })
        .then_expect_events(vec![ApiKeyEvent::IamRulesSet { rules }]);
}

#[test]
fn revoked_key_takes_no_commands() {
    Fixture::with(())
        .given(vec![created(), ApiKeyEvent::KeyRevoked])
        .when(update(None, Some(KeyStatus::Disabled)))
        .then_expect_error(DomainError::NotFound("key"));
}

#[test]
fn a_period_budget_is_set_and_cleared() {
    use crate::period::{Period, PeriodBudget};
    let daily = PeriodBudget {
        limit_nano_usd: 5,
        period: Period::Day,
    };
    let budget = |b: Option<Option<PeriodBudget>>| ApiKeyCommand::Update {
        description: None,
        status: None,
        usage_limit_nano_usd: None,
        expires_at: None,
        period_budget: b,
        rate_limits: None,
    };
    let set = |b| ApiKeyEvent::KeyPeriodBudgetSet { budget: b };
    Fixture::with(())
        .given(vec![created()])
        .when(budget(Some(Some(daily))))
        .then_expect_events(vec![set(Some(daily))]);
    Fixture::with(())
        .given(vec![created(), set(Some(daily))])
        .when(budget(Some(None)))
        .then_expect_events(vec![set(None)]);
    let negative = PeriodBudget {
        limit_nano_usd: -1,
        ..daily
    };
    let r = Fixture::with(())
        .given(vec![created()])
        .when(budget(Some(Some(negative))))
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid {
            param: "period_limit_usd",
            ..
        })
    ));
}

#[test]
fn rate_limits_are_replaced_whole_and_checked() {
    use crate::period::RateLimits;
    let limits = |rpm, tpm| RateLimits {
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
    };
    let set = |l: Option<RateLimits>| ApiKeyCommand::Update {
        description: None,
        status: None,
        usage_limit_nano_usd: None,
        expires_at: None,
        period_budget: None,
        rate_limits: l,
    };
    let event = |l| ApiKeyEvent::KeyRateLimitsSet { limits: l };
    Fixture::with(())
        .given(vec![created()])
        .when(set(Some(limits(Some(30), None))))
        .then_expect_events(vec![event(limits(Some(30), None))]);
    Fixture::with(())
        .given(vec![created(), event(limits(Some(30), None))])
        .when(set(Some(RateLimits::default())))
        .then_expect_events(vec![event(RateLimits::default())]);
    let r = Fixture::with(())
        .given(vec![created()])
        .when(set(Some(limits(Some(0), None))))
        .inspect_result();
    assert!(matches!(
        r,
        Err(DomainError::Invalid {
            param: "rate_limits",
            ..
        })
    ));
}
