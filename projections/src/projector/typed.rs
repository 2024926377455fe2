//! Batches of usage events only (the gateway's live load, and nearly all of a rebuild) on
//! Postgres's typed connection, whose rows go in with `COPY`. The generic driver has no
//! `COPY`; a batch that holds any other event falls back to it.

use sqlx::PgPool;

use super::{
    known, take_records, Handed, Mode, Prefetch, Projector, BATCH, CHECKPOINT, LOCK_CHECKPOINT,
    MOVE_CHECKPOINT, READ_CHECKPOINT,
};
use crate::events::{fetch_after, fetch_after_knowing, fetch_payload};
use crate::{write, Result, StoredEvent};
use tollgate_aggregates::usage::USAGE_AGGREGATE_TYPE;

pub(super) enum Outcome {
    /// Projected (or nothing to project): the new position and the events applied.
    Done((i64, usize)),
    /// For the generic path: the batch holds other events (given, with the position they
    /// were read after), or the checkpoint moved (nothing given).
    Mixed(Option<(i64, Vec<StoredEvent>)>),
}

impl Projector {
    pub(super) async fn usage_batch(
        &self,
        pool: &PgPool,
        mode: Mode,
        pre: Option<(i64, Vec<StoredEvent>)>,
        ahead: &mut Option<Prefetch>,
        handed: &mut Handed,
    ) -> Result<Outcome> {
        // Read before taking the checkpoint's lock, so that no other pool is waited on while
        // it is held. Events never change once committed and positions follow commit order,
        // so what is read after a position is what a batch from there would read.
        let (after, mut events) = match pre {
            Some(read) => read,
            None => {
                let after: i64 = sqlx::query_scalar(READ_CHECKPOINT)
                    .bind(CHECKPOINT)
                    .fetch_one(&self.db.any)
                    .await?;
                let events = match known(handed) {
                    Some(known) => fetch_after_knowing(&self.db.any, after, BATCH, known).await?,
                    None => fetch_after(&self.db.any, after, BATCH).await?,
                };
                (after, events)
            }
        };
        if events.is_empty() {
            return Ok(Outcome::Done((after, 0)));
        }
        if events
            .iter()
            .any(|e| e.aggregate_type != USAGE_AGGREGATE_TYPE)
        {
            return Ok(Outcome::Mixed(Some((after, events))));
        }
        let mut tx = pool.begin().await?;
        if mode == Mode::Rebuild {
            // As on the generic path: a rebuild's batches need not wait for the WAL flush.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        let position: i64 = sqlx::query_scalar(LOCK_CHECKPOINT)
            .bind(CHECKPOINT)
            .fetch_one(&mut *tx)
            .await?;
        if position != after {
            // Another replica projected meanwhile: the generic path reads in its transaction.
            tx.rollback().await?;
            *ahead = None;
            return Ok(Outcome::Mixed(None));
        }
        let mut bulk = write::Bulk::default();
        let mut last = after;
        for event in events.iter_mut() {
            let records = take_records(handed, event);
            if records.is_none() && event.payload.is_empty() {
                // Not expected (the span holds only handed events); read it after all.
                event.payload = fetch_payload(&self.db.any, event).await?;
            }
            write::apply_usage(&mut bulk, event, records)?;
            last = event.position;
        }
        bulk.flush_copy(&mut tx).await?;
        sqlx::query(MOVE_CHECKPOINT)
            .bind(last)
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Outcome::Done((last, events.len())))
    }
}
