use cqrs_es::test::TestFramework;

use super::*;

type Fixture = TestFramework<Organization>;

fn created(limit: u32) -> OrganizationEvent {
    OrganizationEvent::OrganizationCreated {
        name: "Acme".into(),
        project_limit: limit,
    }
}

fn member(id: &str, email: &str, role: Role) -> OrganizationEvent {
    OrganizationEvent::MemberAdded {
        member_id: id.into(),
        email: email.into(),
        role,
        token_hash: format!("hash-{id}"),
    }
}

fn slot(id: &str) -> OrganizationEvent {
    OrganizationEvent::ProjectSlotTaken {
        project_id: id.into(),
    }
}

#[test]
fn create_defaults_to_ten_projects() {
    Fixture::with(())
        .given_no_previous_events()
        .when(OrganizationCommand::Create {
            name: " Acme ".into(),
            project_limit: None,
        })
        .then_expect_events(vec![created(10)]);
}

#[test]
fn create_rejects_blank_name() {
    Fixture::with(())
        .given_no_previous_events()
        .when(OrganizationCommand::Create {
            name: "  ".into(),
            project_limit: None,
        })
        .then_expect_error(DomainError::invalid(
            "name",
            "name must be 1-255 characters",
        ));
}

#[test]
fn create_rejects_zero_limit() {
    let result = Fixture::with(())
        .given_no_previous_events()
        .when(OrganizationCommand::Create {
            name: "Acme".into(),
            project_limit: Some(0),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Invalid {
            param: "project_limit",
            ..
        })
    ));
}

#[test]
fn commands_on_missing_organization_are_not_found() {
    Fixture::with(())
        .given_no_previous_events()
        .when(OrganizationCommand::ChangeProjectLimit { project_limit: 3 })
        .then_expect_error(DomainError::NotFound("organization"));
}

#[test]
fn eleventh_project_is_refused_at_limit_ten() {
    let mut given = vec![created(10)];
    given.extend((0..10).map(|i| slot(&format!("p{i}"))));
    let result = Fixture::with(())
        .given(given)
        .when(OrganizationCommand::TakeProjectSlot {
            project_id: "p10".into(),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Conflict {
            code: "project_limit_reached",
            ..
        })
    ));
}

#[test]
fn released_slot_can_be_taken_again() {
    let mut given = vec![created(2), slot("a"), slot("b")];
    given.push(OrganizationEvent::ProjectSlotReleased {
        project_id: "a".into(),
    });
    Fixture::with(())
        .given(given)
        .when(OrganizationCommand::TakeProjectSlot {
            project_id: "c".into(),
        })
        .then_expect_events(vec![slot("c")]);
}

#[test]
fn duplicate_member_email_conflicts() {
    let result = Fixture::with(())
        .given(vec![created(10), member("m1", "a@x.io", Role::Owner)])
        .when(OrganizationCommand::AddMember {
            member_id: "m2".into(),
            email: "A@x.io".into(),
            role: Role::Developer,
            token_hash: "h".into(),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Conflict {
            code: "member_exists",
            ..
        })
    ));
}

#[test]
fn invalid_email_is_rejected() {
    let result = Fixture::with(())
        .given(vec![created(10)])
        .when(OrganizationCommand::AddMember {
            member_id: "m2".into(),
            email: "not-an-email".into(),
            role: Role::Developer,
            token_hash: "h".into(),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Invalid { param: "email", .. })
    ));
}

#[test]
fn last_owner_cannot_be_demoted_or_removed() {
    let given = vec![created(10), member("m1", "a@x.io", Role::Owner)];
    let demote = Fixture::with(())
        .given(given.clone())
        .when(OrganizationCommand::ChangeMemberRole {
            member_id: "m1".into(),
            role: Role::Admin,
        })
        .inspect_result();
    assert!(matches!(
        demote,
        Err(DomainError::Conflict {
            code: "last_owner",
            ..
        })
    ));
    let remove = Fixture::with(())
        .given(given)
        .when(OrganizationCommand::RemoveMember {
            member_id: "m1".into(),
        })
        .inspect_result();
    assert!(matches!(
        remove,
        Err(DomainError::Conflict {
            code: "last_owner",
            ..
        })
    ));
}

#[test]
fn role_change_of_one_of_two_owners_is_recorded() {
    Fixture::with(())
        .given(vec![
            created(10),
            member("m1", "a@x.io", Role::Owner),
            member("m2", "b@x.io", Role::Owner),
        ])
        .when(OrganizationCommand::ChangeMemberRole {
            member_id: "m2".into(),
            role: Role::Developer,
        })
        .then_expect_events(vec![OrganizationEvent::MemberRoleChanged {
            member_id: "m2".into(),
            role: Role::Developer,
        }]);
}

#[test]
fn credits_must_be_positive() {
    let result = Fixture::with(())
        .given(vec![created(10)])
        .when(OrganizationCommand::AddCredits {
            amount_nano_usd: 0,
            reference: "inv-1".into(),
        })
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Invalid {
            param: "amount_usd",
            ..
        })
    ));
}

#[test]
fn credits_are_added() {
    Fixture::with(())
        .given(vec![created(10)])
        .when(OrganizationCommand::AddCredits {
            amount_nano_usd: 5_000_000_000,
            reference: "inv-1".into(),
        })
        .then_expect_events(vec![OrganizationEvent::CreditsAdded {
            amount_nano_usd: 5_000_000_000,
            reference: "inv-1".into(),
        }]);
}

#[test]
fn credits_stay_within_the_money_ceiling() {
    use crate::types::MAX_NANOS;
    let added = |amount_nano_usd| OrganizationEvent::CreditsAdded {
        amount_nano_usd,
        reference: "inv".into(),
    };
    let add = |amount_nano_usd| OrganizationCommand::AddCredits {
        amount_nano_usd,
        reference: "inv-2".into(),
    };
    // Nine top-ups of $1,000,000,000 used to wrap the balance negative; the second is refused.
    let result = Fixture::with(())
        .given(vec![created(10), added(MAX_NANOS)])
        .when(add(MAX_NANOS))
        .inspect_result();
    assert!(matches!(
        result,
        Err(DomainError::Invalid {
            param: "amount_usd",
            ..
        })
    ));
    let result = Fixture::with(())
        .given(vec![created(10), added(MAX_NANOS - 5)])
        .when(add(6))
        .inspect_result();
    assert!(result.is_err());
    Fixture::with(())
        .given(vec![created(10), added(MAX_NANOS - 5)])
        .when(add(5))
        .then_expect_events(vec![OrganizationEvent::CreditsAdded {
            amount_nano_usd: 5,
            reference: "inv-2".into(),
        }]);
    // Events beyond it (from an older log) are summed without wrapping.
    let mut org = Organization::default();
    for _ in 0..12 {
        org.apply(added(i64::MAX));
    }
    assert_eq!(org.credits_nano_usd, MAX_NANOS);
}
