//! A batch's usage records added to the daily rollups (`crate::rollup`): gathered per project,
//! day, key, model and provider over the batch, then one upsert per row that adds to what is
//! there (several replicas' writers may add to the same row; the sums commute). The same
//! counts without the key go to `rm_usage_daily_totals`, which the views per day, model and
//! provider read (a project's keys multiply the first table's rows, not the second's).

use std::sync::LazyLock;

use tollgate_aggregates::usage::UsageRecord;

use crate::rollup::{bucket, count_columns, day_of, Counts};

/// (project, day, key, model, provider).
type DayKey = (String, String, String, String, String);

type Map<K> = std::collections::HashMap<K, Counts, foldhash::fast::RandomState>;

const DAY_MICROS: i64 = 86_400_000_000;

/// A batch's rollup rows (ids the gateway generated: a fast hash is safe). A batch's records
/// mostly come in runs of one key and model: a run is summed apart and added to the map when
/// the next run begins, so a record neither copies ids nor hashes them.
#[derive(Default)]
pub(crate) struct Days {
    rows: Map<DayKey>,
    /// The run's day (days since the epoch), its row's key and its counts.
    run: Option<(i64, DayKey, Counts)>,
}

/// One upsert of either rollup: its statement, the key's columns' values, the counts.
pub(crate) type Upsert = (&'static str, Vec<String>, Counts);

impl Days {
    pub(crate) fn add(&mut self, r: &UsageRecord) {
        let day = r.started_at.div_euclid(DAY_MICROS);
        let same = self.run.as_ref().is_some_and(|(d, (p, _, k, m, v), _)| {
            *d == day && *k == r.key_id && *m == r.model && *v == r.provider && *p == r.project_id
        });
        if !same {
            self.end_run();
        }
        let (_, _, c) = self.run.get_or_insert_with(|| {
            let key = (
                r.project_id.clone(),
                day_of(r.started_at),
                r.key_id.clone(),
                r.model.clone(),
                r.provider.clone(),
            );
            (day, key, Counts::default())
        });
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

    fn end_run(&mut self) {
        if let Some((_, key, counts)) = self.run.take() {
            self.rows.entry(key).or_default().add(&counts);
        }
    }

    /// The batch's upserts: every keyed row, then the rows summed over keys.
    pub(crate) fn upserts(mut self) -> Vec<Upsert> {
        self.end_run();
        let mut totals: Map<(String, String, String, String)> = Default::default();
        let mut out = Vec::with_capacity(self.rows.len() + 1);
        for ((project, day, key, model, provider), counts) in self.rows {
            totals
                .entry((
                    project.clone(),
                    day.clone(),
                    model.clone(),
                    provider.clone(),
                ))
                .or_default()
                .add(&counts);
            let keys = vec![project, day, key, model, provider];
            out.push((UPSERT.as_str(), keys, counts));
        }
        for ((project, day, model, provider), counts) in totals {
            let keys = vec![project, day, model, provider];
            out.push((UPSERT_TOTALS.as_str(), keys, counts));
        }
        out
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
