//! Metering one request: the money held for it, and the usage record it produces whatever
//! happens — success, error, or the client going away (then `Drop` records it).

use std::sync::Arc;
use std::time::Instant;

use tollgate_aggregates::types::add_nanos;
use tollgate_aggregates::usage::{PaidWith, UsageRecord};

use super::budgets::{self, Amounts, Kind};
use super::error::ProxyError;
use super::leases::Lease;
use super::ledger::{Hold, Refusal};
use super::pricing::{self, usd_short};
use super::providers::Usage;
use super::route::Route;
use super::state::{KeyEntry, ProjectEntry, ProxyState};
use super::usage::{Queued, Recorder};

pub struct Meter {
    state: Arc<ProxyState>,
    recorder: Option<Recorder>,
    hold: Option<Hold>,
    /// What the hold took of each budget, and how much.
    /// At most one per kind of budget: kept inline, no allocation a request.
    leased: smallvec::SmallVec<[(Kind, Lease, i64); 8]>,
    /// Failed attempts recorded so far (each its own usage record).
    attempts: u32,
    pub record: UsageRecord,
    started: Instant,
    fee_percent: f64,
    done: bool,
    route: &'static str,
    /// Time spent waiting on the provider, for the overhead metric.
    pub upstream: std::time::Duration,
}

/// Status recorded for requests whose client went away first (nginx's convention).
const CLIENT_CLOSED: u16 = 499;

impl Meter {
    pub fn new(
        state: Arc<ProxyState>,
        recorder: Option<Recorder>,
        key: &KeyEntry,
        request_id: &str,
        endpoint: &'static str,
        fee_percent: f64,
        started: Instant,
    ) -> Self {
        let record = UsageRecord {
            request_id: request_id.to_string(),
            organization_id: key.organization_id.clone(),
            project_id: key.project_id.clone(),
            key_id: key.key_id.clone(),
            endpoint: endpoint.to_string(),
            requested_model: String::new(),
            model: String::new(),
            provider: String::new(),
            paid_with: PaidWith::None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            reasoning_tokens: 0,
            cost_nano_usd: 0,
            fee_nano_usd: 0,
            estimated: false,
            cached: false,
            streamed: false,
            status: 200,
            error_code: None,
            latency_ms: 0,
            time_to_first_token_ms: None,
            started_at: state.clock.now_micros(),
            cache_creation_tokens: 0,
        };
        Self {
            state,
            recorder,
            hold: None,
            leased: smallvec::SmallVec::new(),
            attempts: 0,
            record,
            started,
            fee_percent,
            done: false,
            route: endpoint,
            upstream: std::time::Duration::ZERO,
        }
    }

    pub fn route(&mut self, route: &Route) {
        self.record.model = route.model.id.clone();
        self.record.provider = route.offer.provider.id().to_string();
        self.record.paid_with = route.paid_with;
    }

    /// Holds the most the request can cost on the key's limit and, on credits, the balance
    /// (in this process's ledger), then on every budget that applies (`budgets`).
    pub async fn reserve(
        &mut self,
        key: &KeyEntry,
        project: &ProjectEntry,
        route: &Route,
        prompt: u64,
        max_output: u64,
    ) -> Result<(), ProxyError> {
        let cost = pricing::reservation(&route.offer, prompt, max_output);
        let credits = route.paid_with == PaidWith::Credits;
        let fee = match credits {
            true => pricing::fee(cost, self.fee_percent),
            false => 0,
        };
        let total = add_nanos(cost, fee);
        let org = credits.then_some((key.organization_id.as_str(), total));
        let ledger = &self.state.ledger;
        let hold = match ledger.reserve(&key.key_id, key.limit_nano_usd, total, org) {
            Ok(hold) => hold,
            Err(Refusal::KeyLimit { limit, committed }) => {
                return Err(key_limit(limit, committed, total))
            }
            Err(Refusal::Credits { available }) => return Err(no_credits(available, total)),
        };
        let balance = hold.org_amount.map(|_| hold.credits);
        self.hold = Some(hold);
        // The period a request counts in is the one it started in.
        let now = self.record.started_at.div_euclid(1_000_000);
        let held = Amounts {
            cost: total,
            credits: if credits { total } else { 0 },
            tokens: i64::try_from(prompt.saturating_add(max_output)).unwrap_or(i64::MAX),
        };
        let mut refused = None;
        let leases = &self.state.leases;
        for (kind, budget) in &budgets::budgets(&self.state, key, project, balance, now) {
            let amount = kind.of(held);
            // From this replica's slice when it holds enough; else wait for a new slice
            // (`reserve` tries the slice again once it holds the take's lock).
            let lease = match leases.try_reserve(budget, amount) {
                Some(lease) => Ok(lease),
                // Boxed: a replica waits for a slice rarely (see `with_retries`).
                None => Box::pin(leases.reserve(budget, amount)).await,
            };
            match lease {
                Ok(lease) => self.leased.push((*kind, lease, amount)),
                Err(_) => {
                    refused = Some(*kind);
                    break;
                }
            }
        }
        if let Some(kind) = refused {
            // Nothing was spent: every hold goes back whole.
            self.release_all();
            return Err(budgets::refusal(kind, key, project, total, now));
        }
        Ok(())
    }

    /// Records the real usage of the current route and settles the hold; returns the cost
    /// (fee included) for the response header.
    pub fn charge(&mut self, route: &Route, usage: Usage, estimated: bool) -> i64 {
        let cost = pricing::cost(&route.offer, &usage);
        let fee = if route.paid_with == PaidWith::Credits {
            pricing::fee(cost, self.fee_percent)
        } else {
            0
        };
        self.record.prompt_tokens = usage.prompt_tokens;
        self.record.completion_tokens = usage.completion_tokens;
        self.record.cached_tokens = usage.cached_tokens;
        self.record.reasoning_tokens = usage.reasoning_tokens;
        self.record.cache_creation_tokens = usage.cache_creation_tokens;
        self.record.cost_nano_usd = cost;
        self.record.fee_nano_usd = fee;
        self.record.estimated = estimated;
        self.settle();
        add_nanos(cost, fee)
    }

    fn settle(&mut self) {
        let total = add_nanos(self.record.cost_nano_usd, self.record.fee_nano_usd);
        let tokens = self
            .record
            .prompt_tokens
            .saturating_add(self.record.completion_tokens);
        let spent = Amounts {
            cost: total,
            credits: match self.record.paid_with {
                PaidWith::Credits => total,
                _ => 0,
            },
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
        };
        self.settle_with(spent);
    }

    /// A refused request: nothing spent, not even a request of a rate limit.
    fn release_all(&mut self) {
        if let Some(hold) = self.hold.take() {
            let (ledger, r) = (&self.state.ledger, &self.record);
            ledger.settle(hold, &r.key_id, &r.organization_id, 0, 0);
        }
        for (_, lease, held) in self.leased.drain(..) {
            lease.release(held);
        }
    }

    /// Replaces the holds with what was spent.
    fn settle_with(&mut self, spent: Amounts) {
        if let Some(hold) = self.hold.take() {
            let (ledger, r) = (&self.state.ledger, &self.record);
            let (cost, credits) = (spent.cost, spent.credits);
            ledger.settle(hold, &r.key_id, &r.organization_id, cost, credits);
        }
        for (kind, lease, held) in self.leased.drain(..) {
            lease.release(held.saturating_sub(kind.of(spent)));
        }
    }

    pub fn first_token(&mut self) {
        if self.record.time_to_first_token_ms.is_none() {
            self.record.time_to_first_token_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    /// The record of a failed attempt that will be retried elsewhere (hybrid fallback).
    pub async fn record_attempt(&mut self, error: &ProxyError) {
        self.settle();
        let mut attempt = self.record.clone();
        attempt.status = error.status().as_u16();
        attempt.error_code = Some(error.code().to_string());
        attempt.latency_ms = self.started.elapsed().as_millis() as u64;
        self.attempts += 1;
        attempt.request_id = format!("{}:attempt-{}", self.record.request_id, self.attempts);
        if let Some(r) = &self.recorder {
            r.record(attempt).await;
        }
    }

    /// Sends the final record with `status` (and an error code when it failed).
    pub async fn finish(self, status: u16, error: Option<&ProxyError>) {
        self.seal(status, error).send().await;
    }

    /// Closes the record and writes it to the spool now; `Sealed::send` queues it later (a
    /// stream seals before its last chunk leaves, and sends from a task of its own).
    pub fn seal(mut self, status: u16, error: Option<&ProxyError>) -> Sealed {
        self.close(status, error);
        // Closed: `Drop` will not look at the record again.
        let record = std::mem::take(&mut self.record);
        let recorder = self.recorder.take();
        let queued = recorder.as_ref().map(|r| r.spool(record));
        Sealed { recorder, queued }
    }

    fn close(&mut self, status: u16, error: Option<&ProxyError>) {
        self.done = true;
        self.settle();
        self.record.status = status;
        if let Some(e) = error {
            self.record.error_code = Some(e.code().to_string());
        }
        let total = self.started.elapsed();
        self.record.latency_ms = total.as_millis() as u64;
        crate::metrics::request(
            self.route,
            status,
            &self.record.provider,
            total,
            self.upstream,
        );
        let record = &self.record;
        super::access::Line {
            method: "POST",
            path: super::access::path_of(self.route),
            status,
            latency: total,
            key_id: &record.key_id,
            model: if record.model.is_empty() {
                &record.requested_model
            } else {
                &record.model
            },
            provider: &record.provider,
            request_id: &record.request_id,
        }
        .log();
    }
}

fn key_limit(limit: i64, committed: i64, total: i64) -> ProxyError {
    ProxyError::UsageLimitExceeded(format!(
        "this key's usage limit of ${} is reached (${} spent or in flight; this request may cost up to ${})",
        usd_short(limit),
        usd_short(committed),
        usd_short(total)
    ))
}

fn no_credits(available: i64, total: i64) -> ProxyError {
    ProxyError::InsufficientCredits(format!(
        "the organization's credits (${} available) do not cover this request (up to ${})",
        usd_short(available.max(0)),
        usd_short(total)
    ))
}

/// A final record already in the spool, to be queued for the writer.
pub struct Sealed {
    recorder: Option<Recorder>,
    queued: Option<Queued>,
}

impl Sealed {
    pub async fn send(self) {
        if let (Some(r), Some(q)) = (self.recorder, self.queued) {
            r.send(q).await;
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The request was cancelled (client gone): release the hold, record what is known.
        self.close(CLIENT_CLOSED, None);
        self.record.error_code = Some("client_closed".into());
        if let Some(r) = &self.recorder {
            r.record_now(self.record.clone());
        }
    }
}
