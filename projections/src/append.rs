//! Appending usage events to the log, on the appending process's own stream (so that it
//! never conflicts): one `UsageRecorded` event per organization per flush, written in one
//! transaction, with the records kept beside the rows so that the projector need not decode
//! what was just encoded (`Projector::append_usage`).

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgPool};
use tollgate_aggregates::usage::{UsageRecord, USAGE_AGGREGATE_TYPE};
use tollgate_aggregates::usage_json::{usage_recorded_json_of, Written};

use crate::{Backend, Db};

/// Usage events' records as their appender holds them, by (stream, sequence).
pub(crate) type Handed = std::collections::HashMap<(String, i64), Vec<UsageRecord>>;

/// Usage events ready to append after `sequence` on `stream`: the rows as they will be bound,
/// built from the records they carry (so the two cannot disagree).
pub struct UsageAppend {
    stream: String,
    rows: Vec<EventRow>,
    records: Vec<Vec<UsageRecord>>,
}

impl std::fmt::Debug for UsageAppend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageAppend")
            .field("stream", &self.stream)
            .field("events", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl UsageAppend {
    /// `events`: each event's records (see `usage::MAX_RECORDS_PER_EVENT`), with their JSON
    /// where it was written already; empty ones are left out.
    pub fn new(stream: &str, sequence: i64, events: Vec<Vec<Written>>) -> Self {
        let events: Vec<Vec<Written>> = events.into_iter().filter(|e| !e.is_empty()).collect();
        let rows = event_rows(sequence, &events);
        let records = events
            .into_iter()
            .map(|e| e.into_iter().map(|w| w.record).collect())
            .collect();
        Self {
            stream: stream.to_string(),
            rows,
            records,
        }
    }

    /// How many events it appends (the stream's sequence moves by this much).
    pub fn events(&self) -> usize {
        self.rows.len()
    }

    pub(crate) async fn write(&self, db: &Db) -> Result<(), sqlx::Error> {
        write(db, &self.stream, &self.rows).await
    }

    /// The records by (stream, sequence), for the projector once the rows are committed.
    pub(crate) fn into_handed(self) -> Handed {
        let stream = self.stream;
        self.rows
            .iter()
            .map(|r| r.sequence)
            .zip(self.records)
            .map(|(sequence, records)| ((stream.clone(), sequence), records))
            .collect()
    }
}

/// One usage event as bound: its sequence, payload and metadata.
struct EventRow {
    sequence: i64,
    payload: String,
    metadata: String,
}

const INSERT_EVENT: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
    event_version, payload, metadata) VALUES ($1, $2, $3, $4, $5, CAST($6 AS json), CAST($7 AS json))";

/// The events after `sequence` on this process's usage stream, as bound.
fn event_rows(sequence: i64, events: &[Vec<Written>]) -> Vec<EventRow> {
    (sequence + 1..)
        .zip(events)
        .filter_map(|(sequence, records)| {
            let first = &records.first()?.record;
            let metadata = serde_json::json!({
                "actor": "gateway",
                "request_id": first.request_id,
                "records": records.len(),
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            })
            .to_string();
            Some(EventRow {
                sequence,
                payload: usage_recorded_json_of(records),
                metadata,
            })
        })
        .collect()
}

/// Appends the rows to this process's usage stream, in one transaction.
async fn write(db: &Db, stream: &str, rows: &[EventRow]) -> Result<(), sqlx::Error> {
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
