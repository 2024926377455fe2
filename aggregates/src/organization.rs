//! Organization: members and their roles, the project limit, live project slots, credits.
//!
//! The project limit is enforced here, not by counting a read model: a project takes a slot
//! on its organization before it is created, so two concurrent creations race on this
//! aggregate's version and the loser retries against fresh state.

use std::collections::{BTreeMap, BTreeSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::types::{validate_name, Role, DEFAULT_PROJECT_LIMIT};
use crate::DomainError;

pub const MAX_PROJECT_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationCommand {
    Create {
        name: String,
        project_limit: Option<u32>,
    },
    AddMember {
        member_id: String,
        email: String,
        role: Role,
        token_hash: String,
    },
    ChangeMemberRole {
        member_id: String,
        role: Role,
    },
    RemoveMember {
        member_id: String,
    },
    ChangeProjectLimit {
        project_limit: u32,
    },
    AddCredits {
        amount_nano_usd: i64,
        reference: String,
    },
    TakeProjectSlot {
        project_id: String,
    },
    ReleaseProjectSlot {
        project_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum OrganizationEvent {
    OrganizationCreated {
        name: String,
        project_limit: u32,
    },
    MemberAdded {
        member_id: String,
        email: String,
        role: Role,
        /// SHA-256 of the member's management token; the token itself is never stored.
        token_hash: String,
    },
    MemberRoleChanged {
        member_id: String,
        role: Role,
    },
    MemberRemoved {
        member_id: String,
    },
    ProjectLimitChanged {
        project_limit: u32,
    },
    CreditsAdded {
        amount_nano_usd: i64,
        reference: String,
    },
    ProjectSlotTaken {
        project_id: String,
    },
    ProjectSlotReleased {
        project_id: String,
    },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrganizationCreated { .. } => "OrganizationCreated",
            Self::MemberAdded { .. } => "MemberAdded",
            Self::MemberRoleChanged { .. } => "MemberRoleChanged",
            Self::MemberRemoved { .. } => "MemberRemoved",
            Self::ProjectLimitChanged { .. } => "ProjectLimitChanged",
            Self::CreditsAdded { .. } => "CreditsAdded",
            Self::ProjectSlotTaken { .. } => "ProjectSlotTaken",
            Self::ProjectSlotReleased { .. } => "ProjectSlotReleased",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Organization {
    pub created: bool,
    pub name: String,
    pub project_limit: u32,
    pub members: BTreeMap<String, Member>,
    pub live_projects: BTreeSet<String>,
    pub credits_nano_usd: i64,
}

impl Organization {
    fn owners(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.role == Role::Owner)
            .count()
    }

    fn member(&self, id: &str) -> Result<&Member, DomainError> {
        self.members.get(id).ok_or(DomainError::NotFound("member"))
    }
}

fn validate_limit(limit: u32) -> Result<(), DomainError> {
    if limit == 0 || limit > MAX_PROJECT_LIMIT {
        return Err(DomainError::invalid(
            "project_limit",
            format!("project_limit must be 1-{MAX_PROJECT_LIMIT}"),
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<(), DomainError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !email.chars().any(char::is_whitespace);
    if !ok {
        return Err(DomainError::invalid(
            "email",
            "email is not a valid address",
        ));
    }
    Ok(())
}

impl Aggregate for Organization {
    const TYPE: &'static str = "Organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use OrganizationCommand as C;
        use OrganizationEvent as E;
        if !self.created && !matches!(command, C::Create { .. }) {
            return Err(DomainError::NotFound("organization"));
        }
        let event = match command {
            C::Create {
                name,
                project_limit,
            } => {
                if self.created {
                    return Err(DomainError::conflict(
                        "already_exists",
                        "organization already exists",
                    ));
                }
                validate_name("name", &name)?;
                let project_limit = project_limit.unwrap_or(DEFAULT_PROJECT_LIMIT);
                validate_limit(project_limit)?;
                E::OrganizationCreated {
                    name: name.trim().to_string(),
                    project_limit,
                }
            }
            C::AddMember {
                member_id,
                email,
                role,
                token_hash,
            } => {
                validate_email(&email)?;
                let email = email.to_lowercase();
                if self.members.values().any(|m| m.email == email) {
                    return Err(DomainError::conflict(
                        "member_exists",
                        "a member with this email already exists",
                    ));
                }
                E::MemberAdded {
                    member_id,
                    email,
                    role,
                    token_hash,
                }
            }
            C::ChangeMemberRole { member_id, role } => {
                let current = self.member(&member_id)?;
                if current.role == role {
                    return Ok(());
                }
                if current.role == Role::Owner && self.owners() == 1 {
                    return Err(DomainError::conflict(
                        "last_owner",
                        "an organization keeps at least one owner",
                    ));
                }
                E::MemberRoleChanged { member_id, role }
            }
            C::RemoveMember { member_id } => {
                if self.member(&member_id)?.role == Role::Owner && self.owners() == 1 {
                    return Err(DomainError::conflict(
                        "last_owner",
                        "an organization keeps at least one owner",
                    ));
                }
                E::MemberRemoved { member_id }
            }
            C::ChangeProjectLimit { project_limit } => {
                validate_limit(project_limit)?;
                E::ProjectLimitChanged { project_limit }
            }
            C::AddCredits {
                amount_nano_usd,
                reference,
            } => {
                if amount_nano_usd <= 0 {
                    return Err(DomainError::invalid(
                        "amount_usd",
                        "amount_usd must be greater than 0",
                    ));
                }
                // The balance stays within the money ceiling: the sum can never wrap.
                if amount_nano_usd > crate::types::MAX_NANOS - self.credits_nano_usd.max(0) {
                    return Err(DomainError::invalid(
                        "amount_usd",
                        "the balance would exceed the maximum of $1000000000",
                    ));
                }
                validate_name("reference", &reference)?;
                E::CreditsAdded {
                    amount_nano_usd,
                    reference,
                }
            }
            C::TakeProjectSlot { project_id } => {
                if self.live_projects.contains(&project_id) {
                    return Ok(());
                }
                if self.live_projects.len() >= self.project_limit as usize {
                    return Err(DomainError::conflict(
                        "project_limit_reached",
                        format!(
                            "the organization has reached its limit of {} projects",
                            self.project_limit
                        ),
                    ));
                }
                E::ProjectSlotTaken { project_id }
            }
            C::ReleaseProjectSlot { project_id } => {
                if !self.live_projects.contains(&project_id) {
                    return Ok(());
                }
                E::ProjectSlotReleased { project_id }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use OrganizationEvent as E;
        match event {
            E::OrganizationCreated {
                name,
                project_limit,
            } => {
                self.created = true;
                self.name = name;
                self.project_limit = project_limit;
            }
            E::MemberAdded {
                member_id,
                email,
                role,
                ..
            } => {
                self.members.insert(member_id, Member { email, role });
            }
            E::MemberRoleChanged { member_id, role } => {
                if let Some(m) = self.members.get_mut(&member_id) {
                    m.role = role;
                }
            }
            E::MemberRemoved { member_id } => {
                self.members.remove(&member_id);
            }
            E::ProjectLimitChanged { project_limit } => self.project_limit = project_limit,
            E::CreditsAdded {
                amount_nano_usd, ..
            } => {
                self.credits_nano_usd =
                    crate::types::add_nanos(self.credits_nano_usd, amount_nano_usd)
            }
            E::ProjectSlotTaken { project_id } => {
                self.live_projects.insert(project_id);
            }
            E::ProjectSlotReleased { project_id } => {
                self.live_projects.remove(&project_id);
            }
        }
    }
}

#[cfg(test)]
#[path = "organization_tests.rs"]
mod tests;
