//! Reading the event log directly: in global order for projections and the audit trail,
//! and per aggregate up to a point in time for `as_of` views.

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Executor, Row};

use crate::{Db, Error, Result};

/// One event as stored, with its global position and recorded-at time (µs since epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The payload and metadata as stored (JSON text): decoded only where needed, straight
    /// into the event type, without building a JSON tree first.
    pub payload: String,
    pub metadata: String,
    pub recorded_at: i64,
}

/// The columns `StoredEvent::from_row` reads; `t` is the events table's alias ("" for none).
pub(crate) fn event_columns(t: &str) -> String {
    format!(
        "{t}global_pos AS global_pos, {t}aggregate_type AS aggregate_type, \
         {t}aggregate_id AS aggregate_id, CAST({t}sequence AS BIGINT) AS sequence, \
         {t}event_type AS event_type, {t}event_version AS event_version, \
         CAST({t}payload AS TEXT) AS payload, CAST({t}metadata AS TEXT) AS metadata, \
         {t}recorded_at AS recorded_at"
    )
}

impl StoredEvent {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let position: i64 = row.try_get("global_pos")?;
        Ok(Self {
            position,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: row.try_get("payload")?,
            metadata: row.try_get("metadata")?,
            recorded_at: row.try_get("recorded_at")?,
        })
    }

    /// Decodes the payload into an aggregate's event type.
    pub fn decode<E: DeserializeOwned>(&self) -> Result<E> {
        serde_json::from_str(&self.payload).map_err(|e| Error::Decode {
            position: self.position,
            reason: e.to_string(),
        })
    }

    /// The payload as a JSON value.
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    /// The metadata as a JSON value.
    pub fn metadata_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.metadata).unwrap_or(serde_json::Value::Null)
    }

    /// A metadata entry (actor, request_id, time), if present.
    pub fn meta(&self, key: &str) -> Option<String> {
        self.metadata_json().get(key)?.as_str().map(str::to_string)
    }
}

/// Events after `position` in global (commit) order, at most `limit`.
pub async fn fetch_after<'e, E>(exec: E, position: i64, limit: i64) -> Result<Vec<StoredEvent>>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM events WHERE global_pos > $1 ORDER BY global_pos LIMIT $2",
        event_columns("")
    );
    let rows = sqlx::query(&sql)
        .bind(position)
        .bind(limit)
        .fetch_all(exec)
        .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

/// Events of one usage stream whose payloads the reader already holds: (stream, first and
/// last sequence).
pub(crate) type Known<'a> = (&'a str, i64, i64);

/// Like `fetch_after`, with an empty payload for the `known` events: the projector holds
/// their records, so the database need not decompress and send them.
pub(crate) async fn fetch_after_knowing<'e, E>(
    exec: E,
    position: i64,
    limit: i64,
    known: Known<'_>,
) -> Result<Vec<StoredEvent>>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let payload = "CAST(payload AS TEXT) AS payload";
    let sql = format!(
        "SELECT {} FROM events WHERE global_pos > $1 ORDER BY global_pos LIMIT $2",
        event_columns("").replace(
            payload,
            "CASE WHEN aggregate_type = $3 AND aggregate_id = $4 AND sequence BETWEEN $5 AND $6 \
             THEN '' ELSE CAST(payload AS TEXT) END AS payload"
        )
    );
    let rows = sqlx::query(&sql)
        .bind(position)
        .bind(limit)
        .bind(tollgate_aggregates::usage::USAGE_AGGREGATE_TYPE)
        .bind(known.0)
        .bind(known.1)
        .bind(known.2)
        .fetch_all(exec)
        .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

/// One event's payload (JSON text).
pub(crate) async fn fetch_payload<'e, E>(exec: E, event: &StoredEvent) -> Result<String>
where
    E: Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT CAST(payload AS TEXT) AS payload FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
    )
    .bind(&event.aggregate_type)
    .bind(&event.aggregate_id)
    .bind(event.sequence)
    .fetch_one(exec)
    .await?;
    Ok(row.try_get("payload")?)
}

/// Like `fetch_after`, leaving out one stream (a process's own usage, which it already knows).
pub async fn fetch_after_except(
    db: &Db,
    position: i64,
    limit: i64,
    except: (&str, &str),
) -> Result<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT {} FROM events WHERE global_pos > $1 \
         AND NOT (aggregate_type = $2 AND aggregate_id = $3) ORDER BY global_pos LIMIT $4",
        event_columns("")
    );
    let rows = sqlx::query(&sql)
        .bind(position)
        .bind(except.0)
        .bind(except.1)
        .bind(limit)
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(StoredEvent::from_row).collect()
}

/// The highest position in the log (0 when empty).
pub async fn head(db: &Db) -> Result<i64> {
    let row =
        sqlx::query("SELECT CAST(COALESCE(MAX(global_pos), 0) AS BIGINT) AS head FROM events")
            .fetch_one(&db.any)
            .await?;
    Ok(row.try_get("head")?)
}

/// An aggregate replayed to a point in time, with the times of its first and last events.
pub struct AsOf<A> {
    pub aggregate: A,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Replays one aggregate from its events recorded at or before `until` (µs since epoch).
/// Returns `None` when it had no events by then.
pub async fn aggregate_as_of<A: Aggregate>(
    db: &Db,
    id: &str,
    until: i64,
) -> Result<Option<AsOf<A>>> {
    let sql = format!(
        "SELECT {} FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3 ORDER BY sequence",
        event_columns("")
    );
    let rows = sqlx::query(&sql)
        .bind(A::TYPE)
        .bind(id)
        .bind(until)
        .fetch_all(&db.any)
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut aggregate = A::default();
    let (mut created_at, mut updated_at) = (0, 0);
    for row in &rows {
        let event = StoredEvent::from_row(row)?;
        if created_at == 0 {
            created_at = event.recorded_at;
        }
        updated_at = event.recorded_at;
        aggregate.apply(event.decode::<A::Event>()?);
    }
    Ok(Some(AsOf {
        aggregate,
        created_at,
        updated_at,
    }))
}
