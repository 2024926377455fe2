//! Alert: one notice to one webhook, raised at most once — its id names the webhook, what
//! happened, to what, at which threshold and in which period, so that a second raise (another
//! replica, or the same one after a restart) finds it raised and writes nothing. Its delivery
//! attempts are claimed one at a time (so replicas do not send it twice) and recorded.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::webhook::AlertKind;
use crate::DomainError;

/// Deliveries are retried for a day after the alert was raised.
pub const RETRY_FOR_SECONDS: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertCommand {
    Raise {
        webhook_id: String,
        organization_id: String,
        kind: AlertKind,
        /// The JSON document the webhook receives.
        body: String,
        /// Unix seconds.
        now: i64,
    },
    /// Takes the next attempt for `until` (Unix seconds); refused while another holds one.
    Claim { attempt: u32, now: i64, until: i64 },
    Record {
        attempt: u32,
        status: Option<u16>,
        error: Option<String>,
        delivered: bool,
        now: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AlertEvent {
    AlertRaised {
        webhook_id: String,
        organization_id: String,
        kind: AlertKind,
        body: String,
        raised_at: i64,
    },
    DeliveryClaimed {
        attempt: u32,
        until: i64,
    },
    DeliveryAttempted {
        attempt: u32,
        /// The receiver's HTTP status, if it answered.
        status: Option<u16>,
        error: Option<String>,
        delivered: bool,
        at: i64,
        /// When the next attempt is due; `None`: delivered, or given up after a day.
        next_attempt_at: Option<i64>,
    },
}

impl DomainEvent for AlertEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AlertRaised { .. } => "AlertRaised",
            Self::DeliveryClaimed { .. } => "DeliveryClaimed",
            Self::DeliveryAttempted { .. } => "DeliveryAttempted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Alert {
    pub raised: bool,
    pub raised_at: i64,
    pub attempts: u32,
    pub claimed_until: i64,
    pub done: bool,
}

/// Seconds before attempt `attempt + 1`: 1, 2, 4... up to an hour.
pub fn backoff(attempt: u32) -> i64 {
    1i64 << attempt.saturating_sub(1).min(12).min(62)
}

impl Aggregate for Alert {
    const TYPE: &'static str = "Alert";
    type Command = AlertCommand;
    type Event = AlertEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let busy = |m: &str| DomainError::conflict("alert_busy", m.to_string());
        let event = match command {
            AlertCommand::Raise {
                webhook_id,
                organization_id,
                kind,
                body,
                now,
            } => {
                if self.raised {
                    // Raised once: the second raise is the same alert.
                    return Ok(());
                }
                AlertEvent::AlertRaised {
                    webhook_id,
                    organization_id,
                    kind,
                    body,
                    raised_at: now,
                }
            }
            AlertCommand::Claim {
                attempt,
                now,
                until,
            } => {
                if !self.raised {
                    return Err(DomainError::NotFound("alert"));
                }
                if self.done || attempt != self.attempts + 1 || self.claimed_until > now {
                    return Err(busy("another attempt holds or has made this delivery"));
                }
                AlertEvent::DeliveryClaimed { attempt, until }
            }
            AlertCommand::Record {
                attempt,
                status,
                error,
                delivered,
                now,
            } => {
                if self.done || attempt != self.attempts + 1 {
                    return Err(busy("this attempt was recorded"));
                }
                let next = now + backoff(attempt).min(3600);
                let next_attempt_at =
                    (!delivered && next <= self.raised_at + RETRY_FOR_SECONDS).then_some(next);
                AlertEvent::DeliveryAttempted {
                    attempt,
                    status,
                    error,
                    delivered,
                    at: now,
                    next_attempt_at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AlertEvent::AlertRaised { raised_at, .. } => {
                self.raised = true;
                self.raised_at = raised_at;
            }
            AlertEvent::DeliveryClaimed { until, .. } => self.claimed_until = until,
            AlertEvent::DeliveryAttempted {
                attempt,
                next_attempt_at,
                ..
            } => {
                self.attempts = attempt;
                self.claimed_until = 0;
                self.done = next_attempt_at.is_none();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn raised() -> AlertEvent {
        AlertEvent::AlertRaised {
            webhook_id: "w".into(),
            organization_id: "o".into(),
            kind: AlertKind::LimitReached,
            body: "{}".into(),
            raised_at: 1000,
        }
    }

    #[test]
    fn a_second_raise_writes_nothing() {
        TestFramework::<Alert>::with(())
            .given(vec![raised()])
            .when(AlertCommand::Raise {
                webhook_id: "w".into(),
                organization_id: "o".into(),
                kind: AlertKind::LimitReached,
                body: "{}".into(),
                now: 2000,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn attempts_are_claimed_one_at_a_time_and_retried_with_backoff() {
        let claimed = AlertEvent::DeliveryClaimed {
            attempt: 1,
            until: 1030,
        };
        let r = TestFramework::<Alert>::with(())
            .given(vec![raised(), claimed.clone()])
            .when(AlertCommand::Claim {
                attempt: 1,
                now: 1001,
                until: 1031,
            })
            .inspect_result();
        assert!(r.is_err(), "a claimed attempt is not claimed twice");
        TestFramework::<Alert>::with(())
            .given(vec![raised(), claimed])
            .when(AlertCommand::Record {
                attempt: 1,
                status: Some(500),
                error: None,
                delivered: false,
                now: 1002,
            })
            .then_expect_events(vec![AlertEvent::DeliveryAttempted {
                attempt: 1,
                status: Some(500),
                error: None,
                delivered: false,
                at: 1002,
                next_attempt_at: Some(1003),
            }]);
        assert_eq!(backoff(3), 4);
    }

    #[test]
    fn after_a_day_it_gives_up() {
        TestFramework::<Alert>::with(())
            .given(vec![raised()])
            .when(AlertCommand::Record {
                attempt: 1,
                status: None,
                error: Some("refused".into()),
                delivered: false,
                now: 1000 + RETRY_FOR_SECONDS,
            })
            .then_expect_events(vec![AlertEvent::DeliveryAttempted {
                attempt: 1,
                status: None,
                error: Some("refused".into()),
                delivered: false,
                at: 1000 + RETRY_FOR_SECONDS,
                next_attempt_at: None,
            }]);
    }
}
