//! Webhook: where an organization (or one of its projects) is told about spend — a key's or
//! project's spend crossing a share of its limit, a limit reached, credits running low. Its
//! signing secret arrives encrypted; the domain never sees it in the clear.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// What a webhook is told about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Spend crossed one of the webhook's percentages of a limit.
    SpendThreshold,
    /// Spend reached a limit.
    LimitReached,
    /// The organization's credits fell below the webhook's balance.
    CreditsLow,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SpendThreshold => "spend_threshold",
            Self::LimitReached => "limit_reached",
            Self::CreditsLow => "credits_low",
        }
    }
}

/// At most this many percentages per webhook.
pub const MAX_THRESHOLDS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WebhookCommand {
    Create {
        organization_id: String,
        /// Only this project's keys and budget; `None`: the whole organization.
        project_id: Option<String>,
        url: String,
        events: Vec<AlertKind>,
        thresholds_percent: Vec<u8>,
        credits_below_nano_usd: Option<i64>,
        /// The signing secret, encrypted by the service.
        encrypted_secret: String,
    },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum WebhookEvent {
    WebhookCreated {
        organization_id: String,
        project_id: Option<String>,
        url: String,
        events: Vec<AlertKind>,
        thresholds_percent: Vec<u8>,
        credits_below_nano_usd: Option<i64>,
        encrypted_secret: String,
    },
    WebhookDeleted,
}

impl DomainEvent for WebhookEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WebhookCreated { .. } => "WebhookCreated",
            Self::WebhookDeleted => "WebhookDeleted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Webhook {
    pub created: bool,
    pub deleted: bool,
    pub organization_id: String,
}

fn validate(
    url: &str,
    events: &[AlertKind],
    thresholds: &[u8],
    credits_below: Option<i64>,
) -> Result<(), DomainError> {
    let http = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    if http.is_none_or(|h| h.is_empty()) || url.len() > 2048 || url.contains(char::is_whitespace) {
        return Err(DomainError::invalid("url", "url must be an http(s) URL"));
    }
    if events.is_empty() {
        return Err(DomainError::invalid("events", "name at least one event"));
    }
    if thresholds.len() > MAX_THRESHOLDS || thresholds.iter().any(|t| !(1..=100).contains(t)) {
        return Err(DomainError::invalid(
            "thresholds_percent",
            format!("up to {MAX_THRESHOLDS} percentages, each 1-100"),
        ));
    }
    if events.contains(&AlertKind::SpendThreshold) && thresholds.is_empty() {
        return Err(DomainError::invalid(
            "thresholds_percent",
            "spend_threshold needs at least one percentage",
        ));
    }
    match (events.contains(&AlertKind::CreditsLow), credits_below) {
        (true, None) => Err(DomainError::invalid(
            "credits_below_usd",
            "credits_low needs credits_below_usd",
        )),
        (_, Some(b)) if b < 0 => Err(DomainError::invalid(
            "credits_below_usd",
            "credits_below_usd must not be negative",
        )),
        _ => Ok(()),
    }
}

impl Aggregate for Webhook {
    const TYPE: &'static str = "Webhook";
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            WebhookCommand::Create {
                organization_id,
                project_id,
                url,
                mut events,
                mut thresholds_percent,
                credits_below_nano_usd,
                encrypted_secret,
            } => {
                if self.created {
                    return Err(DomainError::conflict("already_exists", "webhook exists"));
                }
                events.sort();
                events.dedup();
                thresholds_percent.sort();
                thresholds_percent.dedup();
                validate(&url, &events, &thresholds_percent, credits_below_nano_usd)?;
                WebhookEvent::WebhookCreated {
                    organization_id,
                    project_id,
                    url,
                    events,
                    thresholds_percent,
                    credits_below_nano_usd,
                    encrypted_secret,
                }
            }
            WebhookCommand::Delete => {
                if !self.created || self.deleted {
                    return Err(DomainError::NotFound("webhook"));
                }
                WebhookEvent::WebhookDeleted
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            WebhookEvent::WebhookCreated {
                organization_id, ..
            } => {
                self.created = true;
                self.organization_id = organization_id;
            }
            WebhookEvent::WebhookDeleted => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn create(url: &str, events: Vec<AlertKind>, thresholds: Vec<u8>) -> WebhookCommand {
        WebhookCommand::Create {
            organization_id: "o".into(),
            project_id: None,
            url: url.into(),
            events,
            thresholds_percent: thresholds,
            credits_below_nano_usd: None,
            encrypted_secret: "enc".into(),
        }
    }

    #[test]
    fn thresholds_are_kept_sorted_and_once() {
        TestFramework::<Webhook>::with(())
            .given_no_previous_events()
            .when(create(
                "https://hooks.example/x",
                vec![AlertKind::SpendThreshold],
                vec![80, 50, 80],
            ))
            .then_expect_events(vec![WebhookEvent::WebhookCreated {
                organization_id: "o".into(),
                project_id: None,
                url: "https://hooks.example/x".into(),
                events: vec![AlertKind::SpendThreshold],
                thresholds_percent: vec![50, 80],
                credits_below_nano_usd: None,
                encrypted_secret: "enc".into(),
            }]);
    }

    #[test]
    fn bad_settings_are_refused() {
        for (cmd, param) in [
            (
                create("ftp://x", vec![AlertKind::LimitReached], vec![]),
                "url",
            ),
            (create("https://x", vec![], vec![]), "events"),
            (
                create("https://x", vec![AlertKind::SpendThreshold], vec![]),
                "thresholds_percent",
            ),
            (
                create("https://x", vec![AlertKind::SpendThreshold], vec![0]),
                "thresholds_percent",
            ),
            (
                create("https://x", vec![AlertKind::CreditsLow], vec![]),
                "credits_below_usd",
            ),
        ] {
            let r = TestFramework::<Webhook>::with(())
                .given_no_previous_events()
                .when(cmd)
                .inspect_result();
            assert!(
                matches!(&r, Err(DomainError::Invalid { param: p, .. }) if *p == param),
                "{param}: {r:?}"
            );
        }
    }
}
