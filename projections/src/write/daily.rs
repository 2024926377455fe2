//! A batch's usage records added to the daily rollups (`crate::rollup`): gathered per project,
//! day, key, model and provider over the batch, then one upsert per row that adds to what is
//! there (several replicas' writers may add to the same row; the sums commute). The same
//! counts without the key go to `rm_usage_daily_totals`, which the views per day, model and
//! provider read (a project's keys multiply the first table's rows, not the second's).

use std::sync::LazyLock;

use tollgate_aggregates::usage::UsageRecord;

use crate::rollup::{bucket, count_columns, day_of, Counts};

/// (project, day, key, model, provider).
pub(crate) type DayKey = (String, String, String, String, String);

/// A batch's rollup rows (ids the gateway generated: a fast hash is safe).
pub(crate) type Days = std::collections::HashMap<DayKey, Counts, foldhash::fast::RandomState>;

/// One upsert of either rollup: its statement, the key's columns' values, the counts.
pub(crate) type Upsert = (&'static str, Vec<String>, Counts);

/// The batch's upserts: every keyed row, then the rows summed over keys.
pub(crate) fn upserts(days: Days) -> Vec<Upsert> {
    let mut totals: std::collections::HashMap<_, Counts, foldhash::fast::RandomState> =
        Default::default();
    let mut out = Vec::with_capacity(days.len() + 1);
    for ((project, day, key, model, provider), counts) in days {
        totals
            .entry((
                project.clone(),
                day.clone(),
                model.clone(),
                provider.clone(),
            ))
            .or_insert_with(Counts::default)
            .add(&counts);
        out.push((
            UPSERT.as_str(),
            vec![project, day, key, model, provider],
            counts,
        ));
    }
    for ((project, day, model, provider), counts) in totals {
        out.push((
            UPSERT_TOTALS.as_str(),
            vec![project, day, model, provider],
            counts,
        ));
    }
    out
}

pub(crate) fn add(days: &mut Days, r: &UsageRecord) {
    let key = (
        r.project_id.clone(),
        day_of(r.started_at),
        r.key_id.clone(),
        r.model.clone(),
        r.provider.clone(),
    );
    let c = days.entry(key).or_default();
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let one = Counts {
        requests: 1,
        prompt_tokens: n(r.prompt_tokens),
        completion_tokens: n(r.completion_tokens),
        cost_nano_usd: r.total_nano_usd(),
        cache_hits: i64::from(r.cached),
        errors: i64::from(r.status >= 400),
        ..Counts::default()
    };
    c.add(&one);
    c.latency[bucket(n(r.latency_ms))] += 1;
    if let Some(t) = r.time_to_first_token_ms {
        c.ttft_count += 1;
        c.ttft[bucket(n(t))] += 1;
    }
}

/// The upsert of one row of `table` keyed by `keys`, then the counts, each added on conflict
/// (clamped as the other money sums are).
fn upsert(table: &str, keys: &[&str]) -> String {
    let counts = count_columns();
    let all: Vec<String> = keys
        .iter()
        .map(|k| k.to_string())
        .chain(counts.iter().cloned())
        .collect();
    let params: Vec<String> = (1..=all.len()).map(|i| format!("${i}")).collect();
    let sets: Vec<String> = counts
        .iter()
        .map(|c| {
            let sum = format!("{table}.{c} + excluded.{c}");
            format!(
                "{c} = CASE WHEN {sum} > 1000000000000000000 THEN 1000000000000000000 ELSE {sum} END"
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        all.join(", "),
        params.join(", "),
        keys.join(", "),
        sets.join(", ")
    )
}

static UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "rm_usage_daily",
        &["project_id", "day", "key_id", "model", "provider"],
    )
});

static UPSERT_TOTALS: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "rm_usage_daily_totals",
        &["project_id", "day", "model", "provider"],
    )
});
