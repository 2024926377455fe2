use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{Row, ValueRef};

use crate::events::{event_columns, StoredEvent};
use crate::projector::READ_MODEL_TABLES;
use crate::{Db, Result};

/// Filters of an audit query; times are µs since the epoch, `cursor` is the last position seen.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub organization_id: Option<String>,
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub cursor: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub organization_id: Option<String>,
    pub event: StoredEvent,
}

/// One page of the audit trail in log order, and the cursor of the next page if there is one.
pub async fn audit_page(db: &Db, f: &AuditFilter) -> Result<(Vec<AuditEntry>, Option<i64>)> {
    // The page's rows are chosen in the index first and only then joined to the log: planned
    // as one join, Postgres could pick a scan of the whole log for a deep page (160 ms at a
    // million events) depending on its statistics.
    let mut sql =
        String::from("SELECT position, organization_id FROM rm_audit a WHERE a.position > $1");
    let mut n = 1;
    let mut next = |col: &str, op: &str| {
        n += 1;
        format!(" AND a.{col} {op} ${n}")
    };
    let text = [
        ("organization_id", &f.organization_id),
        ("aggregate_type", &f.aggregate_type),
        ("aggregate_id", &f.aggregate_id),
        ("event_type", &f.event_type),
    ];
    for (col, value) in &text {
        if value.is_some() {
            sql += &next(col, "=");
        }
    }
    if f.since.is_some() {
        sql += &next("recorded_at", ">=");
    }
    if f.until.is_some() {
        sql += &next("recorded_at", "<=");
    }
    n += 1;
    sql += &format!(" ORDER BY a.position LIMIT ${n}");
    let sql = format!(
        "SELECT p.organization_id, {} FROM ({sql}) p JOIN events e ON e.global_pos = p.position \
         ORDER BY p.position",
        event_columns("e.")
    );

    let mut query = sqlx::query(&sql).bind(f.cursor.unwrap_or(0));
    for (_, value) in text {
        if let Some(v) = value {
            query = query.bind(v.clone());
        }
    }
    for t in [f.since, f.until].into_iter().flatten() {
        query = query.bind(t);
    }
    // One extra row tells whether another page follows.
    let rows = query.bind(f.limit + 1).fetch_all(&db.any).await?;
    let mut entries = rows
        .iter()
        .map(|r: &AnyRow| {
            Ok(AuditEntry {
                organization_id: r.try_get("organization_id")?,
                event: StoredEvent::from_row(r)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let more = entries.len() as i64 > f.limit;
    entries.truncate(f.limit as usize);
    let cursor = more
        .then(|| entries.last().map(|e| e.event.position))
        .flatten();
    Ok((entries, cursor))
}

/// Every read-model row as text, table by table, in a stable order: rebuild equality checks.
pub async fn dump(db: &Db) -> Result<BTreeMap<String, Vec<Vec<String>>>> {
    let mut out = BTreeMap::new();
    for table in READ_MODEL_TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .fetch_all(&db.any)
            .await?;
        let mut text = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut cells = Vec::new();
            for i in 0..row.len() {
                cells.push(cell(row, i));
            }
            text.push(cells);
        }
        // Rows alike in their first two columns (a key's hours) come in any order.
        text.sort();
        out.insert((*table).to_string(), text);
    }
    Ok(out)
}

fn cell(row: &AnyRow, i: usize) -> String {
    if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
        return "NULL".into();
    }
    if let Ok(v) = row.try_get::<String, _>(i) {
        return v;
    }
    if let Ok(v) = row.try_get::<i64, _>(i) {
        return v.to_string();
    }
    row.try_get::<f64, _>(i)
        .map(|v| v.to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}
