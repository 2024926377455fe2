use std::sync::Arc;

use cqrs_es::test::TestFramework;

use super::*;
use crate::services::StaticProviders;

type Fixture = TestFramework<Project>;

fn services() -> Arc<dyn DomainServices> {
    Arc::new(StaticProviders(vec!["openai".into(), "custom".into()]))
}

fn fixture() -> Fixture {
    Fixture::with(services())
}

fn created() -> ProjectEvent {
    ProjectEvent::ProjectCreated {
        organization_id: "org".into(),
        name: "Main".into(),
        description: String::new(),
        mode: ProjectMode::Hybrid,
        caching_enabled: false,
        cache_duration_seconds: 60,
    }
}

fn create(name: &str, duration: Option<u32>) -> ProjectCommand {
    ProjectCommand::Create {
        organization_id: "org".into(),
        name: name.into(),
        description: String::new(),
        mode: ProjectMode::Hybrid,
        caching_enabled: false,
        cache_duration_seconds: duration,
        period_budget: None,
        rate_limits: Default::default(),
        fallbacks: Default::default(),
    }
}

fn update() -> ProjectCommand {
    ProjectCommand::Update {
        name: None,
        description: None,
        mode: None,
        caching_enabled: None,
        cache_duration_seconds: None,
        period_budget: None,
        rate_limits: Default::default(),
        fallbacks: None,
    }
}

fn add_key(id: &str, provider: &str, base_url: Option<&str>) -> ProjectCommand {
    ProjectCommand::AddProviderKey {
        provider_key_id: id.into(),
        provider: provider.into(),
        name: None,
        base_url: base_url.map(str::to_string),
        encrypted_key: "cipher".into(),
        last4: "abcd".into(),
    }
}

fn param_of(result: Result<Vec<ProjectEvent>, DomainError>) -> &'static str {
    match result {
        Err(DomainError::Invalid { param, .. }) => param,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn create_uses_default_cache_duration() {
    fixture()
        .given_no_previous_events()
        .when(create("Main", None))
        .then_expect_events(vec![created()]);
}

#[test]
fn name_bounds_are_1_to_255_characters() {
    let long = "é".repeat(256);
    assert_eq!(
        param_of(
            fixture()
                .given_no_previous_events()
                .when(create("", None))
                .inspect_result()
        ),
        "name"
    );
    assert_eq!(
        param_of(
            fixture()
                .given_no_previous_events()
                .when(create(&long, None))
                .inspect_result()
        ),
        "name"
    );
    let ok = fixture()
        .given_no_previous_events()
        .when(create(&"é".repeat(255), None))
        .inspect_result();
    assert!(ok.is_ok());
}

#[test]
fn cache_duration_bounds_are_10_seconds_to_one_year() {
    for bad in [9, 31_536_001] {
        let r = fixture()
            .given_no_previous_events()
            .when(create("p", Some(bad)))
            .inspect_result();
        assert_eq!(param_of(r), "cache_duration_seconds");
    }
    for good in [10, 31_536_000] {
        let r = fixture()
            .given_no_previous_events()
            .when(create("p", Some(good)))
            .inspect_result();
        assert!(r.is_ok(), "{good}");
    }
}

#[test]
fn update_emits_only_what_changed() {
    let mut cmd = update();
    if let ProjectCommand::Update {
        name,
        mode,
        cache_duration_seconds,
        ..
    } = &mut cmd
    {
        *name = Some("Main".into());
        *mode = Some(ProjectMode::Credits);
        *cache_duration_seconds = Some(120);
    }
    fixture()
        .given(vec![created()])
        .when(cmd)
        .then_expect_events(vec![
            ProjectEvent::ModeChanged {
                mode: ProjectMode::Credits,
            },
            ProjectEvent::CachingConfigured {
                enabled: false,
                duration_seconds: 120,
            },
        ]);
}

#[test]
fn update_with_bad_duration_writes_nothing() {
    let mut cmd = update();
    if let ProjectCommand::Update {
        name,
        cache_duration_seconds,
        ..
    } = &mut cmd
    {
        *name = Some("Renamed".into());
        *cache_duration_seconds = Some(5);
    }
    let r = fixture().given(vec![created()]).when(cmd).inspect_result();
    assert_eq!(param_of(r), "cache_duration_seconds");
}

#[test]
fn archived_project_is_not_found() {
    fixture()
        .given(vec![created(), ProjectEvent::ProjectArchived])
        .when(update())
        .then_expect_error(DomainError::NotFound("project"));
}

#[test]
fn unknown_provider_is_rejected() {
    let r = fixture()
        .given(vec![created()])
        .when(add_key("k1", "nope", None))
        .inspect_result();
    assert_eq!(param_of(r), "provider");
}

#[test]
fn custom_provider_needs_a_base_url() {
    let r = fixture()
        .given(vec![created()])
        .when(add_key("k1", "custom", None))
        .inspect_result();
    assert_eq!(param_of(r), "base_url");
    let r = fixture()
        .given(vec![created()])
        .when(add_key("k1", "custom", Some("ftp://x")))
        .inspect_result();
    assert_eq!(param_of(r), "base_url");
}

#[test]
fn several_keys_per_provider_are_allowed() {
    let first = ProjectEvent::ProviderKeyAdded {
        provider_key_id: "k1".into(),
        provider: "openai".into(),
        name: None,
        base_url: None,
        encrypted_key: "cipher".into(),
        last4: "abcd".into(),
    };
    let mut second = first.clone();
    if let ProjectEvent::ProviderKeyAdded {
        provider_key_id, ..
    } = &mut second
    {
        *provider_key_id = "k2".into();
    }
    fixture()
        .given(vec![created(), first])
        .when(add_key("k2", "openai", None))
        .then_expect_events(vec![second]);
}

#[test]
fn disabling_a_missing_provider_key_is_not_found() {
    fixture()
        .given(vec![created()])
        .when(ProjectCommand::SetProviderKeyEnabled {
            provider_key_id: "x".into(),
            enabled: false,
        })
        .then_expect_error(DomainError::NotFound("provider key"));
}

#[test]
fn disabling_twice_writes_once() {
    let added = ProjectEvent::ProviderKeyAdded {
        provider_key_id: "k1".into(),
        provider: "openai".into(),
        name: None,
        base_url: None,
        encrypted_key: "c".into(),
        last4: "abcd".into(),
    };
    fixture()
        .given(vec![
            created(),
            added,
            ProjectEvent::ProviderKeyDisabled {
                provider_key_id: "k1".into(),
            },
        ])
        .when(ProjectCommand::SetProviderKeyEnabled {
            provider_key_id: "k1".into(),
            enabled: false,
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_project_period_budget_is_set_at_creation_and_cleared() {
    use crate::period::{Period, PeriodBudget};
    let weekly = PeriodBudget {
        limit_nano_usd: 7,
        period: Period::Week,
    };
    let mut cmd = create("Main", None);
    if let ProjectCommand::Create { period_budget, .. } = &mut cmd {
        *period_budget = Some(weekly);
    }
    fixture()
        .given_no_previous_events()
        .when(cmd)
        .then_expect_events(vec![
            created(),
            ProjectEvent::ProjectPeriodBudgetSet {
                budget: Some(weekly),
            },
        ]);
    let mut clear = update();
    if let ProjectCommand::Update { period_budget, .. } = &mut clear {
        *period_budget = Some(None);
    }
    let set = ProjectEvent::ProjectPeriodBudgetSet {
        budget: Some(weekly),
    };
    fixture()
        .given(vec![created(), set])
        .when(clear)
        .then_expect_events(vec![ProjectEvent::ProjectPeriodBudgetSet { budget: None }]);
}

#[test]
fn fallback_chains_are_set_at_creation_replaced_and_cleared() {
    use crate::fallbacks::Fallbacks;
    let chain = |to: &[&str]| -> Fallbacks {
        [(
            "gpt-4o".to_string(),
            to.iter().map(|m| m.to_string()).collect(),
        )]
        .into()
    };
    let mut cmd = create("Main", None);
    if let ProjectCommand::Create { fallbacks, .. } = &mut cmd {
        *fallbacks = chain(&["claude-sonnet-4-5"]);
    }
    let set = ProjectEvent::ProjectFallbacksSet {
        fallbacks: chain(&["claude-sonnet-4-5"]),
    };
    fixture()
        .given_no_previous_events()
        .when(cmd)
        .then_expect_events(vec![created(), set.clone()]);
    let with = |f: Fallbacks| {
        let mut u = update();
        if let ProjectCommand::Update { fallbacks, .. } = &mut u {
            *fallbacks = Some(f);
        }
        u
    };
    let other = chain(&["gemini-2.0-flash", "claude-sonnet-4-5"]);
    fixture()
        .given(vec![created(), set.clone()])
        .when(with(other.clone()))
        .then_expect_events(vec![ProjectEvent::ProjectFallbacksSet { fallbacks: other }]);
    fixture()
        .given(vec![created(), set.clone()])
        .when(with(chain(&["claude-sonnet-4-5"])))
        .then_expect_events(vec![]);
    fixture()
        .given(vec![created(), set.clone()])
        .when(with(Fallbacks::new()))
        .then_expect_events(vec![ProjectEvent::ProjectFallbacksSet {
            fallbacks: Fallbacks::new(),
        }]);
    fixture()
        .given(vec![created(), set])
        .when(with(chain(&["gpt-4o"])))
        .then_expect_error_message("the chain of 'gpt-4o' lists 'gpt-4o' itself");
}
