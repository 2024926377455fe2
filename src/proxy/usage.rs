//! Usage recording off the hot path: requests hand records to a bounded channel; one batch
//! writer appends them as `UsageRecorded` events (one per organization per flush, on this
//! process's own stream, so it never conflicts; see `tollgate_projections::UsageAppend`)
//! every 2,000 records or 100 ms, projects them and settles the proxy's state. Shutdown drains the channel. Each record is written to the spool (`spool`) before it
//! is queued, and holds its spool segment until the writer has committed it.

use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;
use tokio::sync::mpsc;

use tollgate_aggregates::usage::{UsageRecord, MAX_RECORDS_PER_EVENT};
use tollgate_aggregates::usage_json::Written;
use tollgate_projections::{AppendError, Projector, UsageAppend};

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
    /// The record's JSON as the spool wrote it.
    json: Option<String>,
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
        let (token, json) = match &self.spool {
            Some(s) => s.append(&record),
            None => (None, None),
        };
        Queued {
            record,
            json,
            token,
        }
    }

    pub async fn send(&self, queued: Queued) {
        // Without waiting while the queue has room: the waiting send's future holds the
        // record and is built only when the writer is behind (boxed, so that the callers'
        // futures stay small on the common path).
        let queued = match self.tx.try_send(queued) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(queued)) => queued,
            Err(mpsc::error::TrySendError::Closed(queued)) => return gone(queued),
        };
        if let Err(e) = Box::pin(self.tx.send(queued)).await {
            gone(e.0);
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

fn gone(queued: Queued) {
    let record = queued.keep();
    tracing::error!(request_id = %record.request_id, "usage writer is gone; record left in the spool");
}

pub struct UsageWriter {
    handle: tokio::task::JoinHandle<()>,
}

impl UsageWriter {
    pub fn start(
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
        let handle = tokio::spawn(run(rx, projector, state, pace));
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
            batch_records.push(Written {
                record: q.record,
                json: q.json,
            });
            tokens.push(q.token);
        }
        let append = UsageAppend::new(&state.instance_id, sequence, events_of(batch_records));
        sequence += append.events() as i64;
        let rows = append.events();
        let projected = append_until_written(&projector, append, records).await;
        // Committed: their spool segments may go.
        drop(tokens);
        crate::metrics::usage_flush(records, started.elapsed(), rx.len());
        crate::metrics::db_queries("usage_writer", 2 + rows as u64);
        if let Some(position) = projected {
            if let Err(e) = state.settle(position).await {
                tracing::warn!(error = %e, "proxy state did not follow the log");
            }
        }
    }
}

/// Appends the batch, retrying a failed write: usage is never dropped while the process
/// lives. The position projected, unless the projection failed (the background projector
/// then takes the events up).
async fn append_until_written(
    projector: &Projector,
    mut append: UsageAppend,
    records: usize,
) -> Option<i64> {
    let mut delay = Duration::from_millis(100);
    loop {
        match projector.append_usage(append).await {
            Ok(position) => return Some(position),
            Err(AppendError::NotWritten(e, again)) => {
                tracing::error!(error = %e, records, "usage batch not written; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                append = again;
            }
            Err(e @ AppendError::NotProjected(_)) => {
                tracing::warn!(error = %e, "projector after usage batch");
                return None;
            }
        }
    }
}

/// A flush's records as events: one per organization, split at `MAX_RECORDS_PER_EVENT`.
/// Records are counted per organization first, so that each event's vector is allocated once
/// at its final size: growing vectors of records (about 300 bytes each) copied them again
/// and again.
pub(super) fn events_of(records: Vec<Written>) -> Vec<Vec<Written>> {
    // Per organization: its record count, then [its first event, records placed so far].
    let mut plan: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for r in &records {
        let r = &r.record;
        match plan.get_mut(r.organization_id.as_str()) {
            Some(p) => p[0] += 1,
            None => {
                plan.insert(r.organization_id.clone(), [1, 0]);
            }
        }
    }
    let mut events: Vec<Vec<Written>> = Vec::new();
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
        if let Some(p) = plan.get_mut(r.record.organization_id.as_str()) {
            let at = p[0] + p[1] / MAX_RECORDS_PER_EVENT;
            p[1] += 1;
            events[at].push(r);
        }
    }
    events
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
        let written = |record| Written { record, json: None };
        let events = events_of(records.into_iter().map(written).collect());
        let shape: Vec<(String, usize)> = events
            .iter()
            .map(|e| (e[0].record.organization_id.clone(), e.len()))
            .collect();
        assert_eq!(
            shape,
            [("a", 3), ("b", 1000), ("b", 1000), ("b", 500)].map(|(o, n)| (o.to_string(), n))
        );
        // Order within an organization is kept.
        assert_eq!(events[1][0].record.request_id, "b-0");
        assert_eq!(events[3][499].record.request_id, "b-2499");
    }
}
