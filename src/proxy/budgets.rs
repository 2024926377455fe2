//! The limits one request must fit, beyond this process's ledger: a key's lifetime limit and
//! its organization's credits when replicas share them (Postgres), and the key's and its
//! project's period budgets (always: their counters are per period). Each is held in slices
//! (`leases`); a refusal names the limit and, for a period, when it renews.

use tollgate_aggregates::period::PeriodBudget;

use super::error::ProxyError;
use super::leases::{Budget, Spent};
use super::pricing::usd_short;
use super::state::{KeyEntry, ProjectEntry, ProxyState};

/// Which limit a budget is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    KeyLimit,
    Credits,
    KeyPeriod,
    ProjectPeriod,
}

impl Kind {
    /// Whether the limit counts what is taken from the credits (else the whole cost).
    pub fn counts_credits(self) -> bool {
        self == Self::Credits
    }
}

/// The budgets a request of `key` in `project` is held on, at `now` (Unix seconds).
pub fn budgets(
    state: &ProxyState,
    key: &KeyEntry,
    project: &ProjectEntry,
    credits: bool,
    now: i64,
) -> Vec<(Kind, Budget)> {
    let mut out = Vec::new();
    let ledger = &state.ledger;
    if state.leases.shared() {
        if let Some(limit) = key.limit_nano_usd {
            let budget = Budget {
                scope: format!("key:{}", key.key_id),
                period_start: key.changed_at,
                limit,
                spent: Spent::Known(ledger.key_spend(&key.key_id)),
            };
            out.push((Kind::KeyLimit, budget));
        }
        if credits {
            let granted = ledger.granted(&key.organization_id);
            let budget = Budget {
                scope: format!("credits:{}", key.organization_id),
                period_start: 0,
                limit: granted,
                spent: Spent::Known(granted.saturating_sub(ledger.balance(&key.organization_id))),
            };
            out.push((Kind::Credits, budget));
        }
    }
    if let Some(b) = key.period_budget {
        let scope = format!("key-period:{}:{}", key.key_id, key.changed_at);
        out.push((Kind::KeyPeriod, period(b, scope, "key", &key.key_id, now)));
    }
    if let Some(b) = project.period_budget {
        let scope = format!("project-period:{}:{}", project.id, project.changed_at);
        out.push((
            Kind::ProjectPeriod,
            period(b, scope, "project", &project.id, now),
        ));
    }
    out
}

fn period(b: PeriodBudget, scope: String, of: &'static str, id: &str, now: i64) -> Budget {
    Budget {
        scope,
        period_start: b.period.start(now),
        limit: b.limit_nano_usd,
        spent: Spent::InPeriod {
            scope: of,
            id: id.to_string(),
        },
    }
}

/// The refusal of a request that may cost up to `total` and does not fit `budget`.
pub fn refusal(
    kind: Kind,
    key: &KeyEntry,
    project: &ProjectEntry,
    total: i64,
    now: i64,
) -> ProxyError {
    let (whose, b) = match kind {
        Kind::KeyLimit => {
            let limit = key.limit_nano_usd.unwrap_or(0);
            return ProxyError::UsageLimitExceeded(format!(
                "this key's usage limit of ${} is reached across the gateway's replicas (this request may cost up to ${})",
                usd_short(limit),
                usd_short(total)
            ));
        }
        Kind::Credits => {
            return ProxyError::InsufficientCredits(format!(
                "the organization's credits do not cover this request (up to ${}) across the gateway's replicas",
                usd_short(total)
            ))
        }
        Kind::KeyPeriod => ("this key's", key.period_budget),
        Kind::ProjectPeriod => ("this project's", project.period_budget),
    };
    let Some(b) = b else {
        return ProxyError::UsageLimitExceeded("a budget is reached".into());
    };
    let resets = b.period.next(now);
    let at = chrono::DateTime::from_timestamp(resets, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    ProxyError::BudgetExceeded {
        message: format!(
            "{whose} {} budget of ${} is reached (this request may cost up to ${}); it renews at {at}",
            b.period.as_str(),
            usd_short(b.limit_nano_usd),
            usd_short(total)
        ),
        retry_after: u64::try_from(resets - now).unwrap_or(0).max(1),
    }
}
