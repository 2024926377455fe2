//! The catch-up projector: reads events after its checkpoint in global order and applies
//! them to the read models, checkpoint included, one transaction per batch.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::{mpsc, watch, Mutex};
use tollgate_aggregates::usage::{UsageRecord, USAGE_AGGREGATE_TYPE};

use crate::append::{Handed, UsageAppend};
use crate::events::{fetch_after, fetch_after_knowing, fetch_payload, Known};
use crate::{indexes, write, Db, Result, StoredEvent};

mod typed;

/// The read models' checkpoint row.
pub(crate) const CHECKPOINT: &str = "read_models";
/// Takes the checkpoint row's lock and reads it, in one statement.
const LOCK_CHECKPOINT: &str =
    "UPDATE projector_checkpoints SET position = position WHERE name = $1 RETURNING position";
pub(crate) const READ_CHECKPOINT: &str =
    "SELECT position FROM projector_checkpoints WHERE name = $1";
const MOVE_CHECKPOINT: &str = "UPDATE projector_checkpoints SET position = $1 WHERE name = $2";
const BATCH: i64 = 10_000;

/// Read-model tables, in the order a rebuild clears them.
pub const READ_MODEL_TABLES: &[&str] = &[
    "rm_organizations",
    "rm_credit_grants",
    "rm_members",
    "rm_projects",
    "rm_provider_keys",
    "rm_api_keys",
    "rm_key_tokens",
    "rm_iam_rules",
    "rm_audit",
    "rm_usage_logs",
    "rm_spend",
    "rm_spend_hourly",
    "rm_usage_daily",
    "rm_usage_daily_totals",
    "rm_webhooks",
    "rm_alerts",
    "rm_alert_attempts",
];

/// A rebuild's batches may skip the WAL flush at commit; live ones may not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Rebuild,
}

pub struct Projector {
    db: Db,
    /// One batch at a time in this process; across replicas the checkpoint row lock serializes.
    running: Mutex<()>,
    position: watch::Sender<i64>,
}

impl Projector {
    pub fn new(db: Db) -> Arc<Self> {
        Arc::new(Self {
            db,
            running: Mutex::new(()),
            position: watch::channel(0).0,
        })
    }

    /// The position the read models reflect, as last seen by this process.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.position.subscribe()
    }

    /// Applies every committed event not yet projected; returns the new checkpoint.
    /// Called after each command so the caller reads its own writes.
    pub async fn catch_up(&self) -> Result<i64> {
        let _guard = self.running.lock().await;
        // Idle polls stay reads: no write transaction unless the log moved past what we saw.
        let seen = *self.position.borrow();
        if seen > 0 && crate::events::head(&self.db).await? <= seen {
            return Ok(seen);
        }
        self.run_batches(Mode::Live, &mut Handed::new()).await
    }

    /// Appends usage events to the log, then projects everything up to them. The records
    /// travel with the rows, so the batch that projects them takes them as they are instead of
    /// decoding the payloads just encoded; holding the projector's lock from the append to
    /// the projection keeps any other batch of this process from projecting them first.
    /// On `NotWritten` nothing was appended and `append` may be tried again.
    pub async fn append_usage(&self, append: UsageAppend) -> Result<i64, AppendError> {
        let _guard = self.running.lock().await;
        if let Err(e) = append.write(&self.db).await {
            return Err(AppendError::NotWritten(e.into(), append));
        }
        let mut handed = append.into_handed();
        // Whatever is left (another replica projected those events) is dropped here.
        self.run_batches(Mode::Live, &mut handed)
            .await
            .map_err(AppendError::NotProjected)
    }

    /// Runs batches until one comes back short; the caller holds `running`. A rebuild reads
    /// the next batch on another connection while the current one is written.
    async fn run_batches(&self, mode: Mode, handed: &mut Handed) -> Result<i64> {
        let mut ahead = match mode {
            Mode::Rebuild => Some(prefetch(self.db.clone(), 0)),
            Mode::Live => None,
        };
        loop {
            let (position, applied) = self.run_batch(mode, &mut ahead, handed).await?;
            self.position.send_replace(position);
            if applied < BATCH as usize {
                return Ok(position);
            }
        }
    }

    async fn run_batch(
        &self,
        mode: Mode,
        ahead: &mut Option<Prefetch>,
        handed: &mut Handed,
    ) -> Result<(i64, usize)> {
        // A batch read ahead, with the position it starts after.
        let mut pre = match ahead.as_mut() {
            Some(rx) => rx.recv().await,
            None => None,
        }
        .and_then(|read| read.ok());
        if pre.is_none() {
            // Not reading ahead (a live batch), or the read failed: each batch reads its own.
            *ahead = None;
        }
        if let crate::Backend::Postgres(pool) = &self.db.backend {
            match self
                .usage_batch(pool, mode, pre.take(), ahead, handed)
                .await?
            {
                typed::Outcome::Done(done) => return Ok(done),
                typed::Outcome::Mixed(read) => pre = read,
            }
        }
        let mut tx = self.db.any.begin().await?;
        if mode == Mode::Rebuild && self.db.is_postgres() {
            // A rebuild is re-runnable and its checkpoint commits with each batch, so a batch
            // lost in a crash is projected again: no need to wait for the WAL flush.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        // Write first: on SQLite a transaction that reads before writing may fail to take the
        // write lock later; on Postgres the row lock keeps replicas from projecting twice.
        let mut position: i64 = sqlx::query(LOCK_CHECKPOINT)
            .bind(CHECKPOINT)
            .fetch_one(&mut *tx)
            .await?
            .try_get("position")?;
        let mut events = match pre {
            Some((after, events)) if after == position => events,
            // Nothing read yet (SQLite), or another replica moved the checkpoint since.
            _ => {
                *ahead = None;
                match known(handed) {
                    Some(known) => fetch_after_knowing(&mut *tx, position, BATCH, known).await?,
                    None => fetch_after(&mut *tx, position, BATCH).await?,
                }
            }
        };
        if events.is_empty() {
            tx.rollback().await?;
            return Ok((position, 0));
        }
        let mut bulk = write::Bulk::default();
        for event in events.iter_mut() {
            let records = take_records(handed, event);
            if records.is_none() && event.payload.is_empty() {
                // Not expected (the span holds only handed events); read it after all.
                event.payload = fetch_payload(&mut *tx, event).await?;
            }
            write::apply(&mut tx, &mut bulk, event, records).await?;
            position = event.position;
        }
        bulk.flush(&mut tx, self.db.is_postgres()).await?;
        sqlx::query(MOVE_CHECKPOINT)
            .bind(position)
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((position, events.len()))
    }

    /// Drops every read model and replays the whole log. The big tables' secondary indexes
    /// are dropped meanwhile and built again at the end, even when the replay fails; if the
    /// process dies first, `Db::migrate` at the next start builds them.
    pub async fn rebuild(&self) -> Result<i64> {
        let _guard = self.running.lock().await;
        let mut tx = self.db.any.begin().await?;
        sqlx::query("UPDATE projector_checkpoints SET position = 0 WHERE name = $1")
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        if self.db.is_postgres() {
            // Unlike DELETE, leaves no dead rows behind for the replay to skip over.
            sqlx::query(&format!("TRUNCATE {}", READ_MODEL_TABLES.join(", ")))
                .execute(&mut *tx)
                .await?;
        } else {
            for table in READ_MODEL_TABLES {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        indexes::drop_all(&mut tx).await?;
        tx.commit().await?;
        self.position.send_replace(0);
        let started = std::time::Instant::now();
        let replayed = self.run_batches(Mode::Rebuild, &mut Handed::new()).await;
        let replay = started.elapsed();
        let restored = indexes::restore(&self.db).await;
        let indexes = started.elapsed() - replay;
        tracing::info!(?replay, ?indexes, "read models rebuilt");
        let position = replayed?;
        restored?;
        Ok(position)
    }

    /// Follows events written by other processes until the task ends: woken by Postgres
    /// notifications at once, and polling every `every` as the backstop.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        let wake = Arc::new(tokio::sync::Notify::new());
        if let crate::Backend::Postgres(pool) = &self.db.backend {
            tokio::spawn(listen(pool.clone(), wake.clone()));
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = wake.notified() => {}
                }
                if let Err(e) = this.catch_up().await {
                    tracing::error!(error = %e, "projector batch failed; retrying");
                }
            }
        })
    }
}

/// Why `append_usage` failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Nothing was appended: the events are given back to be tried again.
    #[error("usage events not appended: {0}")]
    NotWritten(crate::Error, UsageAppend),
    /// Appended, but the projection failed: the background projector will project them.
    #[error("usage events appended but not projected: {0}")]
    NotProjected(crate::Error),
}

/// A usage event's records, when its writer handed them over.
fn take_records(handed: &mut Handed, event: &StoredEvent) -> Option<Vec<UsageRecord>> {
    match event.aggregate_type == USAGE_AGGREGATE_TYPE {
        true => handed.remove(&(event.aggregate_id.clone(), event.sequence)),
        false => None,
    }
}

/// The usage events a batch need not read the payloads of: the span of one stream's handed
/// sequences, when the batch holds every one of them.
fn known(handed: &Handed) -> Option<Known<'_>> {
    let (stream, _) = handed.keys().next()?;
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for (s, sequence) in handed.keys() {
        if s != stream {
            return None;
        }
        first = first.min(*sequence);
        last = last.max(*sequence);
    }
    // Gaps would mean events in the span whose records are not here.
    (usize::try_from(last - first + 1).ok()? == handed.len()).then_some((stream, first, last))
}

/// Batches read ahead, each with the position it starts after.
type Prefetch = mpsc::Receiver<Result<(i64, Vec<StoredEvent>)>>;

/// Reads batches after `after` in order until a short one. Committed events never change and
/// positions follow commit order, so a batch read outside the projector's transaction is the
/// one it would read itself from that position.
fn prefetch(db: Db, mut after: i64) -> Prefetch {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let batch = fetch_after(&db.any, after, BATCH).await;
            let next = match &batch {
                Ok(events) if events.len() == BATCH as usize => events.last().map(|e| e.position),
                _ => None,
            };
            if tx.send(batch.map(|events| (after, events))).await.is_err() {
                return;
            }
            match next {
                Some(position) => after = position,
                None => return,
            }
        }
    });
    rx
}

/// Relays `tollgate_events` notifications to the projector, reconnecting when the
/// connection drops.
async fn listen(pool: sqlx::PgPool, wake: Arc<tokio::sync::Notify>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for events; polling only");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen("tollgate_events").await {
            tracing::warn!(error = %e, "LISTEN failed; polling only");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        while listener.recv().await.is_ok() {
            wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handed(keys: &[(&str, i64)]) -> Handed {
        keys.iter()
            .map(|(s, q)| ((s.to_string(), *q), Vec::new()))
            .collect()
    }

    #[test]
    fn payloads_are_skipped_only_for_a_whole_span_of_one_stream() {
        assert_eq!(known(&handed(&[])), None);
        assert_eq!(
            known(&handed(&[("a", 3), ("a", 5), ("a", 4)])),
            Some(("a", 3, 5))
        );
        assert_eq!(known(&handed(&[("a", 3), ("a", 5)])), None, "a gap");
        assert_eq!(known(&handed(&[("a", 3), ("b", 4)])), None, "two streams");
    }
}
