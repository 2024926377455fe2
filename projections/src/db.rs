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

/// Whether a database URL names a supported store: `sqlite:` (or a bare file path) or
/// `postgres://`/`postgresql://`. Any other scheme (`mysql://`…) is refused by name, not
/// taken as an odd SQLite file name.
pub fn check_url(url: &str) -> Result<()> {
    let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    match scheme.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("sqlite" | "postgres" | "postgresql") => Ok(()),
        Some(other) => Err(crate::Error::UnsupportedUrl(format!(
            "unsupported database URL scheme `{other}:`: the supported stores are \
             sqlite:// (e.g. sqlite://tollgate.db) and postgres:// (or postgresql://)"
        ))),
    }
}

impl Db {
    /// Connects to `postgres://…` or `sqlite://…` (the file is created when missing).
    pub async fn connect(url: &str) -> Result<Self> {
        check_url(url)?;
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

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        for ok in [
            "sqlite://tollgate.db",
            "sqlite::memory:",
            "SQLite://x.db",
            "postgres://u@h/db",
            "postgresql://u@h/db",
            "tollgate.db",
            "./data/t.db",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in ["mysql://u@h/db", "mariadb://h/db", "redis://h", "file:x.db"] {
            let message = check_url(bad).unwrap_err().to_string();
            assert!(message.contains("sqlite://"), "{message}");
            assert!(message.contains("postgres://"), "{message}");
            let scheme = bad.split(':').next().unwrap();
            assert!(message.contains(&format!("`{scheme}:`")), "{message}");
        }
    }
}
