//! The usage read models written live (on Postgres, a batch of usage events only goes
//! through the typed connection with `COPY`) equal those a rebuild writes from the log (there
//! the log's first batch also holds the tenants' own events, so it goes through the generic
//! path): usage logs, audit rows, spend totals and credits alike.

use reqwest::StatusCode;
use sqlx::Row;
use tollgate_projections::read::dump;

use crate::both;
use crate::helpers::Backend;
use crate::upstream::{ask, openai_answer, spawn_gateway};

both!(
    usage_read_models_equal_after_rebuild,
    usage_events_are_stamped_in_commit_order
);

async fn usage_read_models_equal_after_rebuild(backend: Backend) {
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let tenants = [
        g.tenant("credits", 5.0, &[], None).await,
        g.tenant("credits", 5.0, &[], Some(1.0)).await,
    ];
    for round in 0..6 {
        for t in &tenants {
            // One refused request per tenant too: failures are usage records as well.
            let model = if round == 0 {
                "no-such-model"
            } else {
                "gpt-4o-mini"
            };
            let r = g.chat(&t.token, ask(model)).await;
            let want = if round == 0 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            assert_eq!(r.status, want, "{}", r.text);
        }
    }
    for t in &tenants {
        assert_eq!(g.usage_logs(&t.project, 6).await.len(), 6);
    }
    let live = dump(&g.t.app.db).await.unwrap();
    for table in ["rm_usage_logs", "rm_spend", "rm_audit"] {
        assert!(!live[table].is_empty(), "{table} has rows");
    }
    assert_eq!(live["rm_usage_logs"].len(), 12);
    g.t.app.projector.rebuild().await.unwrap();
    let rebuilt = dump(&g.t.app.db).await.unwrap();
    assert_eq!(live, rebuilt);
}

/// Usage events (the writer stamps them as it inserts on SQLite; defaults do on Postgres)
/// and the tenants' own events between them get positions in the order they were appended,
/// and the time they were appended. On SQLite a position must be the row's rowid; on
/// Postgres, where positions are checked against commit order in `projector.rs`, this checks
/// that the times are stamped and follow the positions.
async fn usage_events_are_stamped_in_commit_order(backend: Backend) {
    let began = micros_now();
    let g = spawn_gateway(backend).await;
    g.answer("openai", openai_answer("hi", 10, 5)).await;
    let first = g.tenant("credits", 5.0, &[], None).await;
    for _ in 0..3 {
        assert_eq!(
            g.chat(&first.token, ask("gpt-4o-mini")).await.status,
            StatusCode::OK
        );
    }
    g.usage_logs(&first.project, 3).await;
    let second = g.tenant("credits", 5.0, &[], None).await;
    assert_eq!(
        g.chat(&second.token, ask("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    g.usage_logs(&second.project, 1).await;
    let ended = micros_now();

    let rowid = if backend == Backend::Sqlite {
        "rowid"
    } else {
        "global_pos"
    };
    let rows = sqlx::query(&format!(
        "SELECT {rowid} AS row_id, global_pos, recorded_at, event_type FROM events ORDER BY {rowid}"
    ))
    .fetch_all(&g.t.app.db.any)
    .await
    .unwrap();
    let usage = rows
        .iter()
        .filter(|r| r.get::<String, _>("event_type") == "UsageRecorded");
    // One per flush; the first tenant's requests may take more than one.
    assert!(
        usage.count() >= 2,
        "usage events before and after the second tenant"
    );
    let mut last = (0i64, began);
    for r in &rows {
        let (row_id, position, at): (i64, i64, i64) =
            (r.get("row_id"), r.get("global_pos"), r.get("recorded_at"));
        // Positions follow insertion (on SQLite they are the rowids) and so do the times.
        assert_eq!(position, row_id);
        assert!(
            position > last.0,
            "positions increase: {position} after {}",
            last.0
        );
        assert!(
            at >= last.1 && at <= ended,
            "time {at} within the test, after {}",
            last.1
        );
        last = (position, at);
    }
}

fn micros_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_micros() as i64)
}
