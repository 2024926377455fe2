//! A batch's usage records added to the daily rollup (`crate::rollup`): gathered per project,
//! day, key, model and provider over the batch, then one upsert per row that adds to what is
//! there (several replicas' writers may add to the same row; the sums commute).

use std::sync::LazyLock;

use tollgate_aggregates::usage::UsageRecord;

use crate::rollup::{bucket, count_columns, day_of, Counts};

/// (project, day, key, model, provider).
pub(crate) type DayKey = (String, String, String, String, String);

/// A batch's rollup rows (ids the gateway generated: a fast hash is safe).
pub(crate) type Days = std::collections::HashMap<DayKey, Counts, foldhash::fast::RandomState>;

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

/// The upsert of one row: the key's five columns, then the counts, each added on conflict
/// (clamped as the other money sums are).
pub(crate) static UPSERT: LazyLock<String> = LazyLock::new(|| {
    let counts = count_columns();
    let keys = ["project_id", "day", "key_id", "model", "provider"];
    let all: Vec<String> = keys
        .iter()
        .map(|k| k.to_string())
        .chain(counts.iter().cloned())
        .collect();
    let params: Vec<String> = (1..=all.len()).map(|i| format!("${i}")).collect();
    let sets: Vec<String> = counts
        .iter()
        .map(|c| {
            let sum = format!("rm_usage_daily.{c} + excluded.{c}");
            format!(
                "{c} = CASE WHEN {sum} > 1000000000000000000 THEN 1000000000000000000 ELSE {sum} END"
            )
        })
        .collect();
    format!(
        "INSERT INTO rm_usage_daily ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        all.join(", "),
        params.join(", "),
        keys.join(", "),
        sets.join(", ")
    )
});
