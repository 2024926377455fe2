//! Connections: the typed pool the event store needs (postgres-es or sqlite-es) and an
//! `AnyPool` over the same database for the read side, so one SQL text serves both stores.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, PgPool, SqlitePool};

use crate::Result;

#[derive(Clone, Debug)]
pub enum Backend {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Clone, Debug)]
pub struct Db {
    pub backend: Backend,
    pub any: AnyPool,
}

static MIGRATE_PG: sqlx::migrate::Migrator = sqlx::migrate!("../schemas/migrations/postgres");
static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../schemas/migrations/sqlite");

impl Db {
    /// Connects to `postgres://…` or `sqlite://…` (the file is created when missing).
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(20)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            let any = AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Ok(Self {
                backend: Backend::Postgres(pool),
                any,
            })
        } else {
            // WAL lets readers run beside the single writer; the busy timeout makes writers
            // queue instead of failing. WAL mode is stored in the file, so the Any pool gets it too.
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                // 1 MiB of page cache per connection instead of 2: memory stays small.
                .pragma("cache_size", "-1024");
            // One writer at a time anyway; few connections keep SQLite's page caches small.
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await?;
            let any = AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("PRAGMA busy_timeout = 30000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA cache_size = -1024")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await?;
            Ok(Self {
                backend: Backend::Sqlite(pool),
                any,
            })
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Applies the migrations in `schemas/migrations/<store>`, then recreates read-model
    /// indexes that a rebuild dropped and could not recreate (it failed or was killed).
    pub async fn migrate(&self) -> Result<()> {
        match &self.backend {
            Backend::Postgres(pool) => MIGRATE_PG.run(pool).await?,
            Backend::Sqlite(pool) => MIGRATE_SQLITE.run(pool).await?,
        }
        crate::indexes::restore(self).await?;
        Ok(())
    }

    /// A cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.any).await?;
        Ok(())
    }
}
