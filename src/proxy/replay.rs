//! Start-up replay of the usage spool: the records an earlier process wrote to its spool but
//! may not have committed (it was killed) are appended to the event log, unless already there,
//! before the proxy state is loaded and before serving.
//!
//! A record is identified by its request id and its start time (µs): a client may reuse a
//! request id, but not within the same microsecond of the same project.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use tollgate_aggregates::usage::UsageRecord;
use tollgate_aggregates::usage_json::Written;
use tollgate_projections::{read, Db, Projector, UsageAppend};

use super::spool::read_segment;
use super::usage::events_of;

/// Appends the segments' records missing from the usage log (on a usage stream of their own),
/// projects them, then removes the segments. Returns how many records were appended.
pub async fn replay(db: &Db, projector: &Projector, segments: &[PathBuf]) -> anyhow::Result<usize> {
    if segments.is_empty() {
        return Ok(0);
    }
    let mut records = Vec::new();
    for path in segments {
        let read = read_segment(path)
            .map_err(|e| anyhow::anyhow!("spool segment {}: {e}", path.display()))?;
        records.extend(read);
    }
    let spooled = records.len();
    let missing = missing(db, records).await?;
    let appended = missing.len();
    if appended > 0 {
        let stream = uuid::Uuid::now_v7().to_string();
        projector
            .append_usage(UsageAppend::new(
                &stream,
                0,
                events_of(spooled_again(missing)),
            ))
            .await?;
    }
    for path in segments {
        std::fs::remove_file(path)
            .map_err(|e| anyhow::anyhow!("spool segment {}: {e}", path.display()))?;
    }
    tracing::info!(
        segments = segments.len(),
        spooled,
        appended,
        "usage spool replayed"
    );
    Ok(appended)
}

/// The records not yet in the usage log (the read models are caught up), each once.
async fn missing(db: &Db, records: Vec<UsageRecord>) -> anyhow::Result<Vec<UsageRecord>> {
    // Time span of the records, per project: one indexed query each.
    let mut spans: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in &records {
        let span = spans
            .entry(r.project_id.as_str())
            .or_insert((r.started_at, r.started_at));
        span.0 = span.0.min(r.started_at);
        span.1 = span.1.max(r.started_at);
    }
    let mut seen: HashSet<(String, String, i64)> = HashSet::new();
    for (project, (from, to)) in spans {
        for (request_id, started_at) in read::recorded_requests(db, project, from, to).await? {
            seen.insert((project.to_string(), request_id, started_at));
        }
    }
    let mut missing = Vec::new();
    for r in records {
        // Inserted now: a record spooled twice is appended once.
        if seen.insert((r.project_id.clone(), r.request_id.clone(), r.started_at)) {
            missing.push(r);
        }
    }
    Ok(missing)
}

/// Records read back from the spool, to be written as new events (their JSON anew).
fn spooled_again(records: Vec<UsageRecord>) -> Vec<Written> {
    let written = |record| Written { record, json: None };
    records.into_iter().map(written).collect()
}
