//! Usage recording off the hot path: requests hand records to a bounded channel; one batch
//! writer appends them as `UsageRecorded` events (one per organization per flush, on this
//! process's own stream, so it never conflicts) every 2,000 records or 100 ms, then projects
//! them. Shutdown drains the channel. Each record is written to the spool (`spool`) before it
//! is queued, and holds its spool segment until the writer has committed it.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;
use tokio::sync::mpsc;

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgPool};
use tollgate_aggregates::usage::{UsageRecord, MAX_RECORDS_PER_EVENT, USAGE_AGGREGATE_TYPE};
use tollgate_aggregates::usage_json::usage_recorded_json;
use tollgate_projections::{Backend, Db, Projector};

use super::spool::{Spool, Token};
use super::state::ProxyState;

/// Records waiting beyond this make requests wait (backpressure) rather than drop usage.
const QUEUE: usize = 10_000;

/// Where requests get their recorder. Closing it lets the writer finish once every request
/// in flight (each holding its own recorder) is done.
pub struct UsageSink {
    tx: std::sync::Mutex<Option<mpsc::Sender<Queued>>>,
    spool: Option<Arc<Spool>>,
    /// Cuts the writer's flush-interval wait short on shutdown.
    closing: Arc<tokio::sync::Notify>,
}

impl UsageSink {
    pub fn recorder(&self) -> Option<Recorder> {
        let tx = self.tx.lock().ok()?.clone()?;
        Some(Recorder {
            tx,
            spool: self.spool.clone(),
        })
    }

    /// Records waiting to be written.
    pub fn depth(&self) -> usize {
        self.tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|t| t.max_capacity() - t.capacity()))
            .unwrap_or(0)
    }

    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        self.closing.notify_one();
    }
}

/// A record on its way to the writer, with the spool segment that holds it until committed.
pub struct Queued {
    record: UsageRecord,
    token: Token,
}

impl Queued {
    /// Not handed over: its segment stays for the next start-up to replay.
    fn keep(self) -> UsageRecord {
        if let Some(s) = &self.token {
            s.keep();
        }
        self.record
    }
}

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Queued>,
    spool: Option<Arc<Spool>>,
}

impl Recorder {
    /// Queues a record; waits if the writer is far behind. Never drops one.
    pub async fn record(&self, record: UsageRecord) {
        let queued = self.spool(record);
        self.send(queued).await;
    }

    /// Writes the record to the spool (synchronously): once this returns, a killed process
    /// loses it no more. `send` then queues it.
    pub fn spool(&self, record: UsageRecord) -> Queued {
        let token = self.spool.as_ref().and_then(|s| s.append(&record));
        Queued { record, token }
    }

    pub async fn send(&self, queued: Queued) {
        if let Err(e) = self.tx.send(queued).await {
            let record = e.0.keep();
            tracing::error!(request_id = %record.request_id, "usage writer is gone; record left in the spool");
        }
    }

    /// For `Drop`, which cannot wait: spools, and queues unless the queue is full.
    pub fn record_now(&self, record: UsageRecord) {
        if let Err(e) = self.tx.try_send(self.spool(record)) {
            let failed = e.to_string();
            let record = e.into_inner().keep();
            tracing::error!(error = %failed, request_id = %record.request_id,
                "usage queue full while a request was cancelled; record left in the spool");
        }
    }
}

pub struct UsageWriter {
    handle: tokio::task::JoinHandle<()>,
}

impl UsageWriter {
    pub fn start(
        db: Db,
        projector: Arc<Projector>,
        state: Arc<ProxyState>,
        spool: Option<Arc<Spool>>,
        batch: usize,
        every: Duration,
    ) -> (UsageSink, Self) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let closing = Arc::new(tokio::sync::Notify::new());
        let pace = Pace {
            batch: batch.max(1),
            every,
            closing: closing.clone(),
            spool: spool.clone(),
        };
        let handle = tokio::spawn(run(rx, db, projector, state, pace));
        let sink = UsageSink {
            tx: std::sync::Mutex::new(Some(tx)),
            spool,
            closing,
        };
        (sink, Self { handle })
    }

    /// Waits until every queued record is written (close the sink first).
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

/// When the writer flushes: every `every`, or at once when `batch` records wait.
struct Pace {
    batch: usize,
    every: Duration,
    closing: Arc<tokio::sync::Notify>,
    spool: Option<Arc<Spool>>,
}

async fn run(
    mut rx: mpsc::Receiver<Queued>,
    db: Db,
    projector: Arc<Projector>,
    state: Arc<ProxyState>,
    pace: Pace,
) {
    let Pace {
        batch,
        every,
        closing,
        spool,
    } = pace;
    let mut draining = false;
    let mut sequence = 0i64;
    let mut buffer = Vec::with_capacity(batch);
    loop {
        // Wake once for the first record, then let a flush interval's worth accumulate
        // without a wakeup per record; a full batch is written at once.
        if rx.recv_many(&mut buffer, batch).await == 0 {
            break;
        }
        if buffer.len() < batch && !draining {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = closing.notified() => draining = true,
            }
            while buffer.len() < batch {
                match rx.try_recv() {
                    Ok(r) => buffer.push(r),
                    Err(_) => break,
                }
            }
        }
        // Records from here on go to a new segment, so that this batch's can go once all
        // their records are committed.
        if let Some(s) = &spool {
            if let Err(e) = s.rotate() {
                tracing::error!(error = %e, "spool segment not rotated");
            }
        }
        // A failed write is retried: usage is never dropped while the process lives.
        let started = std::time::Instant::now();
        let records = buffer.len();
        let mut batch_records = Vec::with_capacity(records);
        let mut tokens: Vec<Token> = Vec::with_capacity(records);
        for q in buffer.drain(..) {
            batch_records.push(q.record);
            tokens.push(q.token);
        }
        let events = events_of(batch_records);
        let rows = event_rows(sequence, &events);
        // Handed over before the commit, so that a projector batch woken by the commit's
        // notification has them and does not decode what was just encoded.
        let first = sequence + 1;
        sequence += events.len() as i64;
        projector.hand_over(&state.instance_id, (first..).zip(events).collect());
        let mut delay = Duration::from_millis(100);
        while let Err(e) = write(&db, &state.instance_id, &rows).await {
            tracing::error!(error = %e, records, "usage batch not written; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        // Committed: their spool segments may go.
        drop(tokens);
        crate::metrics::usage_flush(records, started.elapsed(), rx.len());
        crate::metrics::db_queries("usage_writer", 2 + rows.len() as u64);
        let projected = projector.catch_up().await;
        projector.forget_handed();
        match projected {
            Ok(position) => {
                if let Err(e) = state.follow(position).await {
                    tracing::warn!(error = %e, "proxy state did not follow the log");
                }
            }
            Err(e) => tracing::warn!(error = %e, "projector after usage batch"),
        }
    }
}

/// A flush's records as events: one per organization, split at `MAX_RECORDS_PER_EVENT`.
/// Records are counted per organization first, so that each event's vector is allocated once
/// at its final size: growing vectors of records (about 300 bytes each) copied them again
/// and again.
pub(super) fn events_of(records: Vec<UsageRecord>) -> Vec<Vec<UsageRecord>> {
    // Per organization: its record count, then [its first event, records placed so far].
    let mut plan: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for r in &records {
        match plan.get_mut(r.organization_id.as_str()) {
            Some(p) => p[0] += 1,
            None => {
                plan.insert(r.organization_id.clone(), [1, 0]);
            }
        }
    }
    let mut events: Vec<Vec<UsageRecord>> = Vec::new();
    for p in plan.values_mut() {
        let first = events.len();
        let mut left = p[0];
        while left > 0 {
            let n = left.min(MAX_RECORDS_PER_EVENT);
            events.push(Vec::with_capacity(n));
            left -= n;
        }
        *p = [first, 0];
    }
    for r in records {
        if let Some(p) = plan.get_mut(r.organization_id.as_str()) {
            let at = p[0] + p[1] / MAX_RECORDS_PER_EVENT;
            p[1] += 1;
            events[at].push(r);
        }
    }
    events
}

/// One usage event as bound: its sequence, payload and metadata.
pub(super) struct EventRow {
    sequence: i64,
    payload: String,
    metadata: String,
}

const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
    event_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, CAST($6 AS json), CAST($7 AS json))";

/// The events after `sequence` on this process's usage stream, as bound.
pub(super) fn event_rows(sequence: i64, events: &[Vec<UsageRecord>]) -> Vec<EventRow> {
    (sequence + 1..)
        .zip(events)
        .filter_map(|(sequence, records)| {
            let first = records.first()?;
            let metadata = serde_json::json!({
                "actor": "gateway",
                "request_id": first.request_id,
                "records": records.len(),
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            })
            .to_string();
            Some(EventRow {
                sequence,
                payload: usage_recorded_json(records),
                metadata,
            })
        })
        .collect()
}

/// Appends the rows to this process's usage stream, in one transaction.
pub(super) async fn write(db: &Db, stream: &str, rows: &[EventRow]) -> Result<(), sqlx::Error> {
    match &db.backend {
        Backend::Postgres(pool) => write_postgres(pool, stream, rows).await,
        Backend::Sqlite(_) => write_sqlite(db, stream, rows).await,
    }
}

/// On Postgres through the typed driver, with the arguments' buffer sized once: the generic
/// driver grew it by doubling for each payload (up to 600 KB) and then copied it again.
async fn write_postgres(pool: &PgPool, stream: &str, rows: &[EventRow]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for row in rows {
        let mut args = PgArguments::default();
        args.reserve(
            7,
            row.payload.len() + row.metadata.len() + stream.len() + 128,
        );
        let added = args
            .add(USAGE_AGGREGATE_TYPE)
            .and_then(|()| args.add(stream))
            .and_then(|()| args.add(row.sequence))
            .and_then(|()| args.add("UsageRecorded"))
            .and_then(|()| args.add("1.0"))
            .and_then(|()| args.add(row.payload.as_str()))
            .and_then(|()| args.add(row.metadata.as_str()));
        added.map_err(sqlx::Error::Encode)?;
        sqlx::query_with(INSERT_EVENT, args)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// On SQLite, stamped as inserted: the next rowid (the one SQLite would pick; one writer at a
/// time, so rowid order is commit order) as both rowid and position, and the time. Left to
/// the stamp trigger, the row would be written again to set them.
const INSERT_STAMPED_SQLITE: &str = "INSERT INTO events (rowid, aggregate_type, aggregate_id, \
    sequence, event_type, event_version, payload, metadata, global_pos, recorded_at) \
    SELECT p, $1, $2, $3, $4, $5, $6, $7, p, CAST(unixepoch('subsec') * 1000000 AS INTEGER) \
    FROM (SELECT coalesce(max(rowid), 0) + 1 AS p FROM events)";

async fn write_sqlite(db: &Db, stream: &str, rows: &[EventRow]) -> Result<(), sqlx::Error> {
    let mut tx = db.any.begin().await?;
    for row in rows {
        // Bound as `&str`: the generic driver copies every `String` it is given.
        sqlx::query(INSERT_STAMPED_SQLITE)
            .bind(USAGE_AGGREGATE_TYPE)
            .bind(stream)
            .bind(row.sequence)
            .bind("UsageRecorded")
            .bind("1.0")
            .bind(row.payload.as_str())
            .bind(row.metadata.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_becomes_one_event_per_organization_split_at_the_maximum() {
        let record = |org: &str, i: usize| UsageRecord {
            organization_id: org.into(),
            request_id: format!("{org}-{i}"),
            ..UsageRecord::default()
        };
        let mut records: Vec<UsageRecord> = (0..2500).map(|i| record("b", i)).collect();
        records.extend((0..3).map(|i| record("a", i)));
        let events = events_of(records);
        let shape: Vec<(String, usize)> = events
            .iter()
            .map(|e| (e[0].organization_id.clone(), e.len()))
            .collect();
        assert_eq!(
            shape,
            [("a", 3), ("b", 1000), ("b", 1000), ("b", 500)].map(|(o, n)| (o.to_string(), n))
        );
        // Order within an organization is kept.
        assert_eq!(events[1][0].request_id, "b-0");
        assert_eq!(events[3][499].request_id, "b-2499");
    }
}
