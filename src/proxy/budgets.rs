//! The limits one request must fit, beyond this process's ledger: a key's lifetime limit and
//! its organization's credits when replicas share them (Postgres), and the key's and its
//! project's period budgets and rate limits (always: their counters are per period or
//! minute). Each is held in slices (`leases`); a refusal names the limit and when it renews.

use axum::http::{HeaderMap, HeaderValue};
use tollgate_aggregates::period::{minute_start, PeriodBudget, RateLimits};

use super::error::ProxyError;
use super::leases::{Budget, Spent};
use super::pricing::usd_short;
use super::rate_shown::{RATE_HEADERS, RESETS};
use super::state::{KeyEntry, ProjectEntry, ProxyState, Scopes};

/// Which limit a budget is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    KeyLimit,
    Credits,
    KeyPeriod,
    ProjectPeriod,
    KeyRequests,
    KeyTokens,
    ProjectRequests,
    ProjectTokens,
}

/// What a request holds and what it spent, in each budget's unit.
#[derive(Debug, Clone, Copy)]
pub struct Amounts {
    /// Nano-USD, fee included.
    pub cost: i64,
    /// Nano-USD taken from the credits.
    pub credits: i64,
    /// Prompt and output tokens.
    pub tokens: i64,
}

impl Kind {
    /// This budget's share of `a`.
    pub fn of(self, a: Amounts) -> i64 {
        match self {
            Self::KeyLimit | Self::KeyPeriod | Self::ProjectPeriod => a.cost,
            Self::Credits => a.credits,
            Self::KeyRequests | Self::ProjectRequests => 1,
            Self::KeyTokens | Self::ProjectTokens => a.tokens,
        }
    }
}

/// At most one budget of each kind, kept inline: no allocation a request.
pub type Budgets<'a> = smallvec::SmallVec<[(Kind, Budget<'a>); 8]>;

/// The budgets a request of `key` in `project` is held on, at `now` (Unix seconds);
/// `credits`: what its organization was ever given and its balance, when it pays with them.
pub fn budgets<'a>(
    state: &'a ProxyState,
    key: &'a KeyEntry,
    project: &'a ProjectEntry,
    credits: Option<(i64, i64)>,
    now: i64,
) -> Budgets<'a> {
    let mut out = Budgets::new();
    let ledger = &state.ledger;
    if state.leases.shared() {
        if let Some(limit) = key.limit_nano_usd {
            let budget = Budget {
                scope: &key.scopes.lifetime,
                period_start: key.changed_at,
                limit,
                spent: Spent::KeySpend(ledger, &key.key_id),
            };
            out.push((Kind::KeyLimit, budget));
        }
        if let Some((granted, balance)) = credits {
            let budget = Budget {
                scope: &key.credits_scope,
                period_start: 0,
                limit: granted,
                spent: Spent::Known(granted.saturating_sub(balance)),
            };
            out.push((Kind::Credits, budget));
        }
    }
    if let Some(b) = key.period_budget {
        out.push((Kind::KeyPeriod, period(b, &key.scopes, "key", now)));
    }
    if let Some(b) = project.period_budget {
        out.push((
            Kind::ProjectPeriod,
            period(b, &project.scopes, "project", now),
        ));
    }
    let kinds = [Kind::KeyRequests, Kind::KeyTokens];
    rate(&mut out, key.rate_limits, kinds, &key.scopes, now);
    let kinds = [Kind::ProjectRequests, Kind::ProjectTokens];
    rate(&mut out, project.rate_limits, kinds, &project.scopes, now);
    out
}

/// A minute's counters of `limits`.
fn rate<'a>(
    out: &mut Budgets<'a>,
    limits: RateLimits,
    kinds: [Kind; 2],
    scopes: &'a Scopes,
    now: i64,
) {
    let units = [limits.requests_per_minute, limits.tokens_per_minute];
    let names = [&scopes.requests, &scopes.tokens];
    for ((limit, kind), scope) in units.into_iter().zip(kinds).zip(names) {
        if let Some(limit) = limit {
            let budget = Budget {
                scope,
                period_start: minute_start(now),
                limit: i64::try_from(limit).unwrap_or(i64::MAX),
                spent: Spent::Known(0),
            };
            out.push((kind, budget));
        }
    }
}

fn period<'a>(b: PeriodBudget, scopes: &'a Scopes, of: &'static str, now: i64) -> Budget<'a> {
    Budget {
        scope: &scopes.period,
        period_start: b.period.start(now),
        limit: b.limit_nano_usd,
        spent: Spent::InPeriod {
            scope: of,
            id: &scopes.id,
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
        Kind::KeyRequests | Kind::KeyTokens | Kind::ProjectRequests | Kind::ProjectTokens => {
            return rate_refusal(kind, key, project, now)
        }
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

fn rate_refusal(kind: Kind, key: &KeyEntry, project: &ProjectEntry, now: i64) -> ProxyError {
    let (whose, limits) = match kind {
        Kind::KeyRequests | Kind::KeyTokens => ("this key's", key.rate_limits),
        _ => ("this project's", project.rate_limits),
    };
    let tokens = matches!(kind, Kind::KeyTokens | Kind::ProjectTokens);
    let (unit, limit) = match tokens {
        true => ("tokens", limits.tokens_per_minute),
        false => ("requests", limits.requests_per_minute),
    };
    let retry_after = u64::try_from(minute_start(now) + 60 - now)
        .unwrap_or(1)
        .max(1);
    ProxyError::RateLimited {
        message: format!(
            "{whose} rate limit of {} {unit} per minute is reached; retry in {retry_after} s",
            limit.unwrap_or(0)
        ),
        unit,
        retry_after,
    }
}

/// OpenAI's rate-limit headers, for a key (or else its project) with rate limits: the limit,
/// what is left this minute as this replica sees it, and when the minute ends. The project is
/// looked up only for a key without rate limits of its own.
pub fn rate_headers(state: &ProxyState, key: &KeyEntry, now: i64, headers: &mut HeaderMap) {
    let project;
    let (limits, scopes) = match key.rate_limits.is_empty() {
        false => (key.rate_limits, &key.scopes),
        true => match state.project(&key.project_id) {
            Some(p) if !p.rate_limits.is_empty() => {
                project = p;
                (project.rate_limits, &project.scopes)
            }
            _ => return,
        },
    };
    let start = minute_start(now);
    let reset = &RESETS[usize::try_from(start + 60 - now).unwrap_or(60).min(60)];
    headers.reserve(6);
    let limits = [limits.requests_per_minute, limits.tokens_per_minute];
    let counters = [&scopes.requests, &scopes.tokens];
    let shown = limits.into_iter().zip(&scopes.shown.0).zip(counters);
    for (((limit, value), scope), names) in shown.zip(&RATE_HEADERS) {
        let (Some(limit), Some(value)) = (limit, value) else {
            continue;
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let remaining = state
            .leases
            .remaining(scope, start)
            .map_or(limit, |r| r.min(limit));
        headers.insert(names[0].clone(), value.clone());
        headers.insert(names[1].clone(), HeaderValue::from(remaining));
        headers.insert(names[2].clone(), reset.clone());
    }
}
