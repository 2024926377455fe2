use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::Row;
use tollgate_aggregates::types::add_nanos;

use super::flag;
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct UsageLogRow {
    pub id: i64,
    pub position: i64,
    pub request_id: String,
    pub organization_id: String,
    pub project_id: String,
    pub key_id: String,
    pub endpoint: String,
    pub requested_model: String,
    pub model: String,
    pub provider: String,
    pub paid_with: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cost_nano_usd: i64,
    pub fee_nano_usd: i64,
    pub estimated: bool,
    pub cached: bool,
    pub streamed: bool,
    pub status: i64,
    pub error_code: Option<String>,
    pub latency_ms: i64,
    pub time_to_first_token_ms: Option<i64>,
    pub started_at: i64,
}

/// Filters of a usage-log query; `cursor` is the last row id seen (pages go newest first).
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    pub project_id: String,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: Option<i64>,
    pub cached: Option<bool>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub cursor: Option<i64>,
    pub limit: i64,
}

fn log_row(r: &AnyRow) -> Result<UsageLogRow> {
    Ok(UsageLogRow {
        id: r.try_get("id")?,
        position: r.try_get("position")?,
        request_id: r.try_get("request_id")?,
        organization_id: r.try_get("organization_id")?,
        project_id: r.try_get("project_id")?,
        key_id: r.try_get("key_id")?,
        endpoint: r.try_get("endpoint")?,
        requested_model: r.try_get("requested_model")?,
        model: r.try_get("model")?,
        provider: r.try_get("provider")?,
        paid_with: r.try_get("paid_with")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        completion_tokens: r.try_get("completion_tokens")?,
        cached_tokens: r.try_get("cached_tokens")?,
        reasoning_tokens: r.try_get("reasoning_tokens")?,
        cache_creation_tokens: r.try_get("cache_creation_tokens")?,
        cost_nano_usd: r.try_get("cost_nano_usd")?,
        fee_nano_usd: r.try_get("fee_nano_usd")?,
        estimated: flag(r, "estimated")?,
        cached: flag(r, "cached")?,
        streamed: flag(r, "streamed")?,
        status: r.try_get("status")?,
        error_code: r.try_get("error_code")?,
        latency_ms: r.try_get("latency_ms")?,
        time_to_first_token_ms: r.try_get("time_to_first_token_ms")?,
        started_at: r.try_get("started_at")?,
    })
}

/// The filtered rows, newest first, optionally only up to `limit` after the cursor.
async fn select(db: &Db, f: &UsageFilter, paged: bool) -> Result<Vec<UsageLogRow>> {
    let mut sql = String::from("SELECT * FROM rm_usage_logs WHERE project_id = $1");
    let mut n = 1;
    let mut cond = |sql: &mut String, col: &str, op: &str| {
        n += 1;
        sql.push_str(&format!(" AND {col} {op} ${n}"));
    };
    let texts = [
        ("key_id", &f.key_id),
        ("model", &f.model),
        ("provider", &f.provider),
    ];
    for (col, v) in &texts {
        if v.is_some() {
            cond(&mut sql, col, "=");
        }
    }
    // A page of logs walks the (project, id) index newest first; `+started_at` keeps the
    // time bounds off the time index, which would sort every row of the range first.
    let time = if paged { "+started_at" } else { "started_at" };
    let ints = [
        ("status", "=", f.status),
        ("cached", "=", f.cached.map(i64::from)),
        (time, ">=", f.since),
        (time, "<=", f.until),
        ("id", "<", if paged { f.cursor } else { None }),
    ];
    for (col, op, v) in &ints {
        if v.is_some() {
            cond(&mut sql, col, op);
        }
    }
    sql.push_str(" ORDER BY id DESC");
    if paged {
        n += 1;
        sql.push_str(&format!(" LIMIT ${n}"));
    }
    let mut q = sqlx::query(&sql).bind(&f.project_id);
    for (_, v) in texts {
        if let Some(v) = v {
            q = q.bind(v.clone());
        }
    }
    for (_, _, v) in ints {
        if let Some(v) = v {
            q = q.bind(v);
        }
    }
    if paged {
        q = q.bind(f.limit + 1);
    }
    let rows = q.fetch_all(&db.any).await?;
    rows.iter().map(log_row).collect()
}

/// One page of usage logs, newest first, and the cursor of the next page.
pub async fn usage_logs(db: &Db, f: &UsageFilter) -> Result<(Vec<UsageLogRow>, Option<i64>)> {
    let mut rows = select(db, f, true).await?;
    let more = rows.len() as i64 > f.limit;
    rows.truncate(f.limit.max(0) as usize);
    let cursor = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok((rows, cursor))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Model,
    Key,
    Provider,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageGroup {
    pub group: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_nano_usd: i64,
    pub cache_hits: i64,
    pub errors: i64,
    pub latency_p50_ms: i64,
    pub latency_p95_ms: i64,
    /// Over the streamed requests (0 when there were none).
    pub ttft_p50_ms: i64,
    pub ttft_p95_ms: i64,
}

/// Totals per group. From the daily rollup when the filter is whole days without a status or
/// cache filter (what the dashboard asks: no scan of the logs, percentiles as histogram bucket
/// bounds); else over the filtered logs themselves (exact percentiles).
pub async fn usage_summary(db: &Db, f: &UsageFilter, by: GroupBy) -> Result<Vec<UsageGroup>> {
    match f.status.is_none() && f.cached.is_none() && whole_days(f.since, f.until) {
        true => summary_of_days(db, f, by).await,
        false => summary_of_logs(db, f, by).await,
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

/// `since` starts a day and `until` ends one (to the second, the millisecond or the µs).
fn whole_days(since: Option<i64>, until: Option<i64>) -> bool {
    let starts = since.is_none_or(|s| s.rem_euclid(DAY_MICROS) == 0);
    let ends = until.is_none_or(|u| {
        [1, 1_000, 1_000_000]
            .iter()
            .any(|step| (u + step).rem_euclid(DAY_MICROS) == 0)
    });
    starts && ends
}

async fn summary_of_days(db: &Db, f: &UsageFilter, by: GroupBy) -> Result<Vec<UsageGroup>> {
    match grouped_days(db, f, by).await {
        Ok(groups) => Ok(groups),
        // SQLite's SUM fails rather than pass `i64::MAX` (sums of clamped values near the
        // ceiling): the rows are then added here, clamped.
        Err(_) => summary_of_logs(db, f, by).await,
    }
}

/// The rollup's rows summed per group by the database: a handful of rows come back.
async fn grouped_days(db: &Db, f: &UsageFilter, by: GroupBy) -> Result<Vec<UsageGroup>> {
    let counts = crate::rollup::count_columns();
    let dim = match by {
        GroupBy::Day => "day",
        GroupBy::Model => "model",
        GroupBy::Key => "key_id",
        GroupBy::Provider => "provider",
    };
    let sums: Vec<String> = counts
        .iter()
        .map(|c| match db.is_postgres() {
            // A numeric sum, held to the ceiling the rollup keeps.
            true => format!("CAST(LEAST(SUM({c}), 1000000000000000000) AS BIGINT) AS {c}"),
            false => format!("SUM({c}) AS {c}"),
        })
        .collect();
    // Without a key in the question, the rollup summed over keys answers (fewer rows).
    let table = match by == GroupBy::Key || f.key_id.is_some() {
        true => "rm_usage_daily",
        false => "rm_usage_daily_totals",
    };
    let mut sql = format!(
        "SELECT {dim} AS grp, {} FROM {table} WHERE project_id = $1",
        sums.join(", ")
    );
    let mut binds: Vec<String> = Vec::new();
    let mut cond = |sql: &mut String, col: &str, op: &str, v: String| {
        binds.push(v);
        sql.push_str(&format!(" AND {col} {op} ${}", binds.len() + 1));
    };
    for (col, v) in [
        ("key_id", &f.key_id),
        ("model", &f.model),
        ("provider", &f.provider),
    ] {
        if let Some(v) = v {
            cond(&mut sql, col, "=", v.clone());
        }
    }
    if let Some(s) = f.since {
        cond(&mut sql, "day", ">=", crate::rollup::day_of(s));
    }
    if let Some(u) = f.until {
        cond(&mut sql, "day", "<=", crate::rollup::day_of(u));
    }
    sql.push_str(&format!(" GROUP BY {dim} ORDER BY {dim}"));
    let mut q = sqlx::query(&sql).bind(&f.project_id);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&db.any).await?;
    use crate::rollup::percentile as bucket_percentile;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let values = counts
            .iter()
            .map(|c| r.try_get::<i64, _>(c.as_str()))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        let c = crate::rollup::Counts::from_values(&values);
        out.push(UsageGroup {
            group: r.try_get("grp")?,
            requests: c.requests,
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            cost_nano_usd: c.cost_nano_usd,
            cache_hits: c.cache_hits,
            errors: c.errors,
            latency_p50_ms: bucket_percentile(&c.latency, 50),
            latency_p95_ms: bucket_percentile(&c.latency, 95),
            ttft_p50_ms: bucket_percentile(&c.ttft, 50),
            ttft_p95_ms: bucket_percentile(&c.ttft, 95),
        });
    }
    Ok(out)
}

async fn summary_of_logs(db: &Db, f: &UsageFilter, by: GroupBy) -> Result<Vec<UsageGroup>> {
    let rows = select(db, f, false).await?;
    let mut groups: BTreeMap<String, (UsageGroup, Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for r in rows {
        let key = match by {
            GroupBy::Day => chrono_day(r.started_at),
            GroupBy::Model => r.model.clone(),
            GroupBy::Key => r.key_id.clone(),
            GroupBy::Provider => r.provider.clone(),
        };
        let (g, latencies, ttfts) = groups.entry(key.clone()).or_default();
        g.group = key;
        g.requests += 1;
        // Token counts are stored saturated at `i64::MAX`; money within its ceiling.
        g.prompt_tokens = g.prompt_tokens.saturating_add(r.prompt_tokens);
        g.completion_tokens = g.completion_tokens.saturating_add(r.completion_tokens);
        g.cost_nano_usd = add_nanos(g.cost_nano_usd, add_nanos(r.cost_nano_usd, r.fee_nano_usd));
        g.cache_hits += i64::from(r.cached);
        g.errors += i64::from(r.status >= 400);
        latencies.push(r.latency_ms);
        ttfts.extend(r.time_to_first_token_ms);
    }
    Ok(groups
        .into_values()
        .map(|(mut g, mut latencies, mut ttfts)| {
            latencies.sort_unstable();
            ttfts.sort_unstable();
            g.latency_p50_ms = percentile(&latencies, 50);
            g.latency_p95_ms = percentile(&latencies, 95);
            g.ttft_p50_ms = percentile(&ttfts, 50);
            g.ttft_p95_ms = percentile(&ttfts, 95);
            g
        })
        .collect())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

use crate::rollup::day_of as chrono_day;

/// The `(request_id, started_at)` of a project's usage rows started within `[from, to]` (µs):
/// what a spool replay checks its records against, so that a record already in the log is not
/// appended twice. Served by the `(project_id, started_at)` index.
pub async fn recorded_requests(
    db: &Db,
    project_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT request_id, started_at FROM rm_usage_logs \
         WHERE project_id = $1 AND started_at >= $2 AND started_at <= $3",
    )
    .bind(project_id)
    .bind(from)
    .bind(to)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("request_id")?, r.try_get("started_at")?)))
        .collect()
}

/// Total spend (nano-USD, fee included) and request count of a key, project or organization.
pub async fn spend(db: &Db, scope: &str, id: &str) -> Result<(i64, i64)> {
    let row =
        sqlx::query("SELECT requests, cost_nano_usd FROM rm_spend WHERE scope = $1 AND id = $2")
            .bind(scope)
            .bind(id)
            .fetch_optional(&db.any)
            .await?;
    Ok(match row {
        Some(r) => (r.try_get("cost_nano_usd")?, r.try_get("requests")?),
        None => (0, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_percentiles() {
        assert_eq!(chrono_day(0), "1970-01-01");
        assert_eq!(chrono_day(1_795_000_000_000_000), "2026-11-18");
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10);
        assert_eq!(percentile(&[], 95), 0);
    }
}
