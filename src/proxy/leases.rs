//! Limits that hold across replicas. Each replica takes a slice (a lease) of a limit's room
//! from a counter shared by all of them (`tollgate_projections::counters`, one atomic
//! statement), reserves requests locally against it, and takes another slice when it runs
//! short. A slice is an eighth of the room the counter last showed, and never less than the
//! request needs, so slices shrink as the limit nears: what the replicas take between them
//! never passes the limit, and a request only waits on the database when its replica's slice
//! is spent. Unspent slices go back at shutdown. A single process (SQLite) keeps its counters
//! in memory, with the same slices; lifetime limits and credits it leaves to its ledger.

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use tollgate_projections::counters::{self, Counter, Taken};
use tollgate_projections::{read, Db};

use super::FastMap;

/// A budget's counter: its name (`key:<id>`, `credits:<organization>`,
/// `key-period:<id>:<changed>`...) and, once found, what this replica holds of it. Made once
/// per key or project (see `state::Scopes`), so a request neither formats nor hashes names.
#[derive(Debug, Clone)]
pub struct Scope {
    pub name: Arc<str>,
    held: Arc<std::sync::OnceLock<&'static Held>>,
}

impl Scope {
    pub fn new(name: String) -> Self {
        Self {
            name: Arc::from(name),
            held: Arc::default(),
        }
    }
}

/// A limit as this replica sees it, borrowing its key's or project's names: a request clones
/// no shared pointer to build it (each clone and drop was an atomic write to a cache line the
/// serving threads share).
#[derive(Debug, Clone)]
pub struct Budget<'a> {
    pub scope: &'a Scope,
    /// The period, or for a lifetime limit the time it was last set (a new limit counts anew).
    pub period_start: i64,
    pub limit: i64,
    /// Where a new counter starts.
    pub spent: Spent<'a>,
}

/// What was spent before a counter began.
#[derive(Debug, Clone)]
pub enum Spent<'a> {
    /// As this replica knows it.
    Known(i64),
    /// A key's settled spend in this replica's ledger, looked up only when a counter is
    /// created (not on every request).
    KeySpend(&'a super::ledger::Ledger, &'a str),
    /// The spend of a key or project (`scope` of the spend read model) since `period_start`,
    /// read when the counter is created.
    InPeriod { scope: &'static str, id: &'a str },
}

impl Budget<'_> {
    /// The room as this replica knows it, before any counter was seen.
    fn known_room(&self) -> i64 {
        match self.spent {
            Spent::Known(spent) => self.limit.saturating_sub(spent),
            Spent::KeySpend(ledger, key_id) => self.limit.saturating_sub(ledger.key_spend(key_id)),
            Spent::InPeriod { .. } => self.limit,
        }
    }
}

/// Where the counters live.
enum Store {
    /// Shared by every replica on the database.
    Database,
    /// This process's alone: scope -> (period start, used).
    Memory(Mutex<std::collections::HashMap<Arc<str>, (i64, i64)>>),
}

/// The shared counter has no room for the amount.
#[derive(Debug)]
pub struct Exhausted;

/// What a replica holds of one budget. Requests reserve and release with one atomic
/// operation each (no lock: every request of a key touches these same words from every
/// serving thread); a new period and a new slice are set under `changing`.
#[derive(Default, Debug)]
pub struct Held {
    /// The period the slice counts in.
    period_start: AtomicI64,
    /// Room taken from the counter and not yet reserved (negative: a request cost more than
    /// it reserved, and the next slice pays for it).
    available: AtomicI64,
    /// The counter's room when last seen.
    room: AtomicI64,
    changing: Mutex<()>,
    /// One take from the counter at a time per budget: others wait and use what it brought.
    taking: tokio::sync::Mutex<()>,
}

/// A copy of a slice, for giving it back.
#[derive(Clone, Copy, Debug)]
struct Slice {
    period_start: i64,
    available: i64,
}

impl Held {
    fn change(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn period(&self) -> i64 {
        self.period_start.load(SeqCst)
    }

    /// Starts the slice of `period_start` empty if it is not the current one (a new period
    /// or a new limit: the old slice counted against the old counter). Under `changing`.
    fn start(&self, period_start: i64) {
        if self.period() != period_start {
            // The period first: a release that then adds to `available` sees it and undoes.
            self.period_start.store(period_start, SeqCst);
            self.available.store(0, SeqCst);
            self.room.store(0, SeqCst);
        }
    }

    /// The counter's room as last seen for this period, else as this replica knows it.
    fn room(&self, budget: &Budget<'_>) -> i64 {
        let room = self.room.load(SeqCst);
        match self.period() == budget.period_start && room > 0 {
            true => room,
            false => budget.known_room(),
        }
    }

    /// Adds a slice taken from the counter, which then stood at `used`.
    fn add(&self, budget: &Budget<'_>, taken: i64, used: i64) {
        let _changing = self.change();
        self.start(budget.period_start);
        self.add_available(taken);
        self.room.store(budget.limit.saturating_sub(used), SeqCst);
    }

    /// Reserves `amount` from the slice of `period_start`, if it holds enough; else how much
    /// it is short.
    fn reserve(&self, period_start: i64, amount: i64) -> Result<(), i64> {
        if self.period() != period_start {
            let _changing = self.change();
            self.start(period_start);
        }
        let mut current = self.available.load(SeqCst);
        loop {
            if current < amount {
                return Err(amount.saturating_sub(current));
            }
            match self.available.compare_exchange_weak(
                current,
                current.saturating_sub(amount),
                SeqCst,
                SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        if self.period() != period_start {
            // The period moved on meanwhile: what was taken may be the new one's.
            self.give(period_start, amount);
            return Err(amount);
        }
        Ok(())
    }

    /// Adds `amount` back to the slice of `period_start`, if it is still the current one.
    fn give(&self, period_start: i64, amount: i64) {
        if self.period() != period_start {
            return;
        }
        self.add_available(amount);
        if amount > 0 && self.period() != period_start {
            // A new period began meanwhile: this belonged to the old one's counter. Taken
            // out again (from a slice already emptied, it leaves it owing: never more room).
            // What a request owed (`amount` < 0) stays: less room, never more.
            self.add_available(-amount);
        }
    }

    /// Adds to `available` in one atomic step, saturating (never wrapping).
    fn add_available(&self, amount: i64) {
        let _ = self
            .available
            .fetch_update(SeqCst, SeqCst, |v| Some(v.saturating_add(amount)));
    }

    fn slice(&self) -> Slice {
        let _changing = self.change();
        Slice {
            period_start: self.period(),
            available: self.available.load(SeqCst),
        }
    }
}

/// What a request holds of one budget, handed back through it (no second lookup, no
/// reference count to change).
#[derive(Clone, Copy)]
pub struct Lease {
    held: &'static Held,
    period_start: i64,
}

impl Lease {
    /// Returns to the slice what the hold did not spend (`unspent` may be negative: the
    /// request cost more than it held, and the slice pays).
    pub fn release(&self, unspent: i64) {
        self.held.give(self.period_start, unspent);
    }
}

pub struct Leases {
    db: Db,
    store: Store,
    /// One per counter name this process used, kept for the process's life (to give back
    /// at shutdown), so requests may refer to them without counting references.
    held: FastMap<Arc<str>, &'static Held>,
}

impl Leases {
    /// What this replica holds of `scope`, found in the map the first time only.
    fn held(&self, scope: &Scope) -> &'static Held {
        scope.held.get_or_init(|| {
            *self
                .held
                .entry(scope.name.clone())
                .or_insert_with(|| Box::leak(Box::default()))
        })
    }
}

impl Leases {
    /// Counters on Postgres (several gateways may share it), else in this process's memory.
    pub fn new(db: Db) -> Self {
        let store = match db.is_postgres() {
            true => Store::Database,
            false => Store::Memory(Mutex::default()),
        };
        Self {
            db,
            store,
            held: FastMap::default(),
        }
    }

    /// Whether limits are shared with other replicas (a database several processes use).
    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Database)
    }

    /// Reserves `amount` of `budget`'s room from this replica's slice, if it holds enough:
    /// no future to build and poll for the common case (see `reserve`).
    pub fn try_reserve(&self, budget: &Budget<'_>, amount: i64) -> Option<Lease> {
        let held = self.held(budget.scope);
        held.reserve(budget.period_start, amount).ok()?;
        Some(Lease {
            held,
            period_start: budget.period_start,
        })
    }

    /// Reserves `amount` of `budget`'s room once `try_reserve` found this replica's slice
    /// short, taking slices from the shared counter until it fits or the counter is spent.
    pub async fn reserve(&self, budget: &Budget<'_>, amount: i64) -> Result<Lease, Exhausted> {
        let held = self.held(budget.scope);
        let lease = Lease {
            held,
            period_start: budget.period_start,
        };
        let _taking = held.taking.lock().await;
        // Requests served from the slice meanwhile may use what a take brings: take again
        // until this one fits, or the counter has no room.
        loop {
            let short = match held.reserve(budget.period_start, amount) {
                Ok(()) => return Ok(lease),
                Err(short) => short,
            };
            let room = held.room(budget);
            // A generous slice first; near the limit, exactly what is missing.
            let wants = match room / 8 > short {
                true => [room / 8, short],
                false => [short, 0],
            };
            let mut granted = false;
            for want in wants.into_iter().filter(|w| *w > 0) {
                match self.take(budget, want).await? {
                    Taken::Granted { used } => {
                        held.add(budget, want, used);
                        granted = true;
                        break;
                    }
                    Taken::Refused { used } => held.add(budget, 0, used),
                }
            }
            if !granted {
                return Err(Exhausted);
            }
        }
    }

    async fn take(&self, budget: &Budget<'_>, want: i64) -> Result<Taken, Exhausted> {
        let counter = Counter {
            scope: &budget.scope.name,
            period_start: budget.period_start,
        };
        let failed = |e: tollgate_projections::Error| {
            // Without the counter nothing can be promised: refuse rather than overspend.
            tracing::error!(scope = %budget.scope.name, error = %e, "budget counter unavailable");
            Exhausted
        };
        if let Store::Memory(counters) = &self.store {
            let known = counters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&*budget.scope.name)
                .filter(|(start, _)| *start == budget.period_start)
                .is_some();
            let initial = match known {
                true => 0,
                false => self.spent_before(budget).await.map_err(failed)?,
            };
            let mut counters = counters.lock().unwrap_or_else(|p| p.into_inner());
            let entry = counters
                .entry(budget.scope.name.clone())
                .or_insert((budget.period_start, initial));
            if entry.0 != budget.period_start {
                *entry = (budget.period_start, initial);
            }
            let used = entry.1;
            return Ok(match used.saturating_add(want) <= budget.limit {
                true => {
                    entry.1 = used + want;
                    Taken::Granted { used: entry.1 }
                }
                false => Taken::Refused { used },
            });
        }
        crate::metrics::db_queries("budget_counters", 1);
        let initial = self.spent_before(budget).await.map_err(failed)?;
        counters::take(&self.db, counter, initial, want, budget.limit)
            .await
            .map_err(failed)
    }

    /// Where a new counter starts.
    async fn spent_before(&self, budget: &Budget<'_>) -> tollgate_projections::Result<i64> {
        match &budget.spent {
            Spent::Known(spent) => Ok(*spent),
            Spent::KeySpend(ledger, key_id) => Ok(ledger.key_spend(key_id)),
            Spent::InPeriod { scope, id } => {
                crate::metrics::db_queries("budget_counters", 1);
                read::period_spend(&self.db, scope, id, budget.period_start).await
            }
        }
    }

    /// What is left of `scope`'s limit in the period starting at `period_start`, as this
    /// replica last saw it (its own unreserved slice included); `None` before it took any.
    pub fn remaining(&self, scope: &Scope, period_start: i64) -> Option<i64> {
        let held = scope.held.get()?;
        let room = held.room.load(SeqCst);
        let available = held.available.load(SeqCst);
        (held.period() == period_start).then(|| room.saturating_add(available).max(0))
    }

    /// Gives every unspent slice back to its counter (at shutdown, once no request is left).
    pub async fn give_back(&self) {
        if !self.shared() {
            return;
        }
        let slices: Vec<(Arc<str>, Slice)> = self
            .held
            .iter()
            .map(|h| (h.key().clone(), h.slice()))
            .collect();
        for (scope, s) in slices.into_iter().filter(|(_, s)| s.available > 0) {
            let counter = Counter {
                scope: &scope,
                period_start: s.period_start,
            };
            if let Err(e) = counters::give_back(&self.db, counter, s.available).await {
                tracing::warn!(%scope, error = %e, "unspent budget slice not given back");
            }
        }
    }
}
