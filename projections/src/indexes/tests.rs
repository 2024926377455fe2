//! The index list against the migrations, and rebuilds that leave the indexes in place.

use std::collections::BTreeSet;

use sqlx::Row;

use super::*;
use crate::{Error, Projector};

fn normalize(sql: &str) -> String {
    let lines = sql.lines().filter(|l| !l.trim_start().starts_with("--"));
    let text: Vec<&str> = lines.flat_map(str::split_whitespace).collect();
    text.join(" ")
}

fn listed() -> BTreeSet<String> {
    REBUILD_INDEXES.iter().map(Index::create_sql).collect()
}

fn tables() -> BTreeSet<&'static str> {
    REBUILD_INDEXES.iter().map(|i| i.table).collect()
}

/// The indexes the migrations of `store` leave on the rebuild's tables, as statements.
fn migrated(store: &str) -> BTreeSet<String> {
    let dir = format!(
        "{}/../schemas/migrations/{store}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("migrations")
        .map(|f| f.expect("migration").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("migration text");
        for statement in text.split(';').map(normalize) {
            let words: Vec<&str> = statement.split(' ').collect();
            match words.as_slice() {
                ["CREATE", "INDEX" | "UNIQUE", ..] => {
                    let on = words.iter().position(|w| *w == "ON").expect("ON");
                    if tables().contains(words[on + 1]) {
                        found.insert(statement.clone());
                    }
                }
                ["DROP", "INDEX", .., name] => {
                    found.retain(|s| !s.contains(&format!(" INDEX {name} ON ")));
                }
                _ => {}
            }
        }
    }
    found
}

#[test]
fn list_matches_the_migrations() {
    for store in ["postgres", "sqlite"] {
        assert_eq!(listed(), migrated(store), "{store} migrations");
    }
}

async fn fresh_sqlite(name: &str) -> Db {
    let dir = std::env::temp_dir().join(format!("tollgate-indexes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = Db::connect(&format!("sqlite://{}/t.db", dir.display()))
        .await
        .expect("database");
    db.migrate().await.expect("migrate");
    db
}

/// The listed indexes the database has (primary keys left out).
async fn names(db: &Db) -> BTreeSet<String> {
    let listed = all_names();
    let names = existing(db).await.unwrap().into_iter();
    names.filter(|n| listed.contains(n)).collect()
}

fn all_names() -> BTreeSet<String> {
    REBUILD_INDEXES.iter().map(|i| i.name.to_string()).collect()
}

#[tokio::test]
async fn sqlite_schema_has_exactly_the_listed_indexes() {
    let db = fresh_sqlite("schema").await;
    let rows = sqlx::query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
         AND tbl_name IN ('rm_audit', 'rm_usage_logs')",
    )
    .fetch_all(&db.any)
    .await
    .unwrap();
    let sql: BTreeSet<String> = rows.iter().map(|r| normalize(r.get("sql"))).collect();
    assert_eq!(sql, listed());
}

async fn append(db: &Db, aggregate_type: &str, sequence: i64, payload: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) VALUES ($1, 'a', $2, 'E', '1', $3, '{}')",
    )
    .bind(aggregate_type)
    .bind(sequence)
    .bind(payload)
    .execute(&db.any)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_rebuild_that_fails_midway_recreates_the_indexes() {
    let db = fresh_sqlite("failed").await;
    for sequence in 1..=3 {
        append(&db, "Probe", sequence, "{}").await;
    }
    // Not an organization event: the replay stops here with a decode error.
    append(&db, "Organization", 1, r#"{"nonsense": 1}"#).await;
    let projector = Projector::new(db.clone());
    let err = projector.rebuild().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert_eq!(names(&db).await, all_names());
    let audited: i64 = sqlx::query("SELECT COUNT(*) AS n FROM rm_audit")
        .fetch_one(&db.any)
        .await
        .unwrap()
        .get("n");
    assert_eq!(audited, 0, "the failed batch rolled back");
}

#[tokio::test]
async fn the_next_start_recreates_indexes_a_killed_rebuild_dropped() {
    let db = fresh_sqlite("killed").await;
    let mut tx = db.any.begin().await.unwrap();
    drop_all(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(names(&db).await.is_empty());
    db.migrate().await.unwrap();
    assert_eq!(names(&db).await, all_names());
    assert_eq!(restore(&db).await.unwrap(), 0, "nothing left to build");
}
