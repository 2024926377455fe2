//! The catch-up projector: reads events after its checkpoint in global order and applies
//! them to the read models, checkpoint included, one transaction per batch.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::{watch, Mutex};

use crate::events::fetch_after;
use crate::{write, Db, Result};

const CHECKPOINT: &str = "read_models";
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
];

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
        loop {
            let (position, applied) = self.run_batch().await?;
            self.position.send_replace(position);
            if applied < BATCH as usize {
                return Ok(position);
            }
        }
    }

    async fn run_batch(&self) -> Result<(i64, usize)> {
        let mut tx = self.db.any.begin().await?;
        // Write first: on SQLite a transaction that reads before writing may fail to take the
        // write lock later; on Postgres the row lock keeps replicas from projecting twice.
        sqlx::query("UPDATE projector_checkpoints SET position = position WHERE name = $1")
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT position FROM projector_checkpoints WHERE name = $1")
            .bind(CHECKPOINT)
            .fetch_one(&mut *tx)
            .await?;
        let mut position: i64 = row.try_get("position")?;
        let events = fetch_after(&mut *tx, position, BATCH).await?;
        if events.is_empty() {
            tx.rollback().await?;
            return Ok((position, 0));
        }
        let mut bulk = write::Bulk::default();
        for event in &events {
            write::apply(&mut tx, &mut bulk, event).await?;
            position = event.position;
        }
        bulk.flush(&mut tx, self.db.is_postgres()).await?;
        sqlx::query("UPDATE projector_checkpoints SET position = $1 WHERE name = $2")
            .bind(position)
            .bind(CHECKPOINT)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((position, events.len()))
    }

    /// Drops every read model and replays the whole log.
    pub async fn rebuild(&self) -> Result<i64> {
        {
            let _guard = self.running.lock().await;
            let mut tx = self.db.any.begin().await?;
            sqlx::query("UPDATE projector_checkpoints SET position = 0 WHERE name = $1")
                .bind(CHECKPOINT)
                .execute(&mut *tx)
                .await?;
            for table in READ_MODEL_TABLES {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            self.position.send_replace(0);
        }
        self.catch_up().await
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
