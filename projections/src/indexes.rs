//! Secondary indexes of the big read-model tables. A full rebuild drops them and builds them
//! once at the end: sorting a full table is much cheaper than keeping seven B-trees up to
//! date row by row. The migrations create the same indexes; a test keeps the two in step.

use sqlx::Row;

use crate::{Db, Result};

/// One secondary index, as the migrations create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static str,
}

/// The indexes a rebuild drops and recreates. Primary keys stay: they are used to build
/// the read models, and they catch a row projected twice.
pub const REBUILD_INDEXES: &[Index] = &[
    Index {
        name: "rm_audit_org",
        table: "rm_audit",
        columns: "organization_id, position",
    },
    Index {
        name: "rm_audit_aggregate",
        table: "rm_audit",
        columns: "aggregate_type, aggregate_id, position",
    },
    Index {
        name: "rm_audit_type",
        table: "rm_audit",
        columns: "event_type, position",
    },
    Index {
        name: "rm_audit_time",
        table: "rm_audit",
        columns: "recorded_at, position",
    },
    Index {
        name: "rm_usage_logs_project",
        table: "rm_usage_logs",
        columns: "project_id, id",
    },
    Index {
        name: "rm_usage_logs_key",
        table: "rm_usage_logs",
        columns: "key_id, id",
    },
    Index {
        name: "rm_usage_logs_time",
        table: "rm_usage_logs",
        columns: "project_id, started_at",
    },
];

impl Index {
    /// The statement the migrations use for this index.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE INDEX {} ON {} ({})",
            self.name, self.table, self.columns
        )
    }
}

/// Drops every index of `REBUILD_INDEXES`, inside the rebuild's reset transaction.
pub(crate) async fn drop_all(tx: &mut crate::write::Tx<'_>) -> Result<()> {
    for index in REBUILD_INDEXES {
        sqlx::query(&format!("DROP INDEX IF EXISTS {}", index.name))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Creates the indexes of `REBUILD_INDEXES` that are missing: after a rebuild, and at start
/// in case a rebuild stopped (error or crash) before it could recreate them. Each table's
/// indexes are built on a connection of their own, beside the other table's.
pub async fn restore(db: &Db) -> Result<usize> {
    let existing = existing(db).await?;
    let missing: Vec<Index> = REBUILD_INDEXES
        .iter()
        .copied()
        .filter(|i| !existing.iter().any(|name| name == i.name))
        .collect();
    if db.is_postgres() {
        // Two connections: the first table's indexes beside the others'.
        let first = missing.first().map(|i| i.table);
        let (a, b): (Vec<Index>, Vec<Index>) = missing.iter().partition(|i| Some(i.table) == first);
        let (a, b) = tokio::join!(create(db, a), create(db, b));
        a?;
        b?;
    } else {
        // SQLite has one writer at a time anyway.
        create(db, missing.clone()).await?;
    }
    if !missing.is_empty() {
        // Fresh statistics for the planner: after a rebuild the tables were just filled, and
        // queries planned on the empty tables' statistics were slow (an audit page went from
        // under 1 ms to 18 ms at a million rows).
        let mut tables: Vec<&str> = missing.iter().map(|i| i.table).collect();
        tables.dedup();
        for table in tables {
            sqlx::query(&format!("ANALYZE {table}"))
                .execute(&db.any)
                .await?;
        }
        tracing::info!(created = missing.len(), "read-model indexes restored");
    }
    Ok(missing.len())
}

async fn create(db: &Db, indexes: Vec<Index>) -> Result<()> {
    for index in indexes {
        let mut tx = db.any.begin().await?;
        if db.is_postgres() {
            // Sorting in memory instead of in temporary files; for this statement only.
            sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
                .execute(&mut *tx)
                .await?;
        }
        // IF NOT EXISTS: another process may be restoring the same index.
        let sql = index
            .create_sql()
            .replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1);
        sqlx::query(&sql).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Names of the indexes on the tables of `REBUILD_INDEXES`. Reading the catalog first keeps
/// a start from locking tables when nothing is missing.
pub async fn existing(db: &Db) -> Result<Vec<String>> {
    let mut tables: Vec<String> = REBUILD_INDEXES
        .iter()
        .map(|i| format!("'{}'", i.table))
        .collect();
    tables.dedup();
    let tables = tables.join(", ");
    let sql = if db.is_postgres() {
        format!(
            "SELECT CAST(indexname AS TEXT) AS name FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ({tables})"
        )
    } else {
        format!("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({tables})")
    };
    let rows = sqlx::query(&sql).fetch_all(&db.any).await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("name")?))
        .collect()
}

#[cfg(test)]
mod tests;
