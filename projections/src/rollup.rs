//! The daily usage rollup (`rm_usage_daily`): what is kept per project, day, key, model and
//! provider, and how its latency histograms give percentiles. Shared by the writer (which adds
//! each batch's records to it) and the usage summaries (which read it instead of the logs).

/// Upper bounds (ms, inclusive) of the histogram buckets; the last bucket holds the rest.
pub const BOUNDS: [i64; 13] = [
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000,
];
pub const BUCKETS: usize = BOUNDS.len() + 1;
/// What the last bucket's percentile is shown as (it has no upper bound).
const ABOVE: i64 = 60_000;

/// The bucket of a duration in ms.
pub fn bucket(ms: i64) -> usize {
    BOUNDS.partition_point(|b| *b < ms)
}

/// The nearest-rank percentile `p` of a histogram, as its bucket's upper bound.
pub fn percentile(counts: &[i64; BUCKETS], p: i64) -> i64 {
    let total: i64 = counts.iter().sum();
    if total <= 0 {
        return 0;
    }
    let rank = ((i128::from(p) * i128::from(total) + 99) / 100).max(1);
    let mut seen = 0i128;
    for (i, n) in counts.iter().enumerate() {
        seen += i128::from(*n);
        if seen >= rank {
            return BOUNDS.get(i).copied().unwrap_or(ABOVE);
        }
    }
    ABOVE
}

/// `YYYY-MM-DD` (UTC) of a time in µs since the epoch.
pub fn day_of(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    // Civil-from-days (H. Hinnant), to avoid a date dependency here.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// One row's counts.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Nano-USD, fee included.
    pub cost_nano_usd: i64,
    pub cache_hits: i64,
    pub errors: i64,
    pub latency: [i64; BUCKETS],
    pub ttft_count: i64,
    pub ttft: [i64; BUCKETS],
}

/// The number columns, in the order `Counts::values` gives them.
pub fn count_columns() -> Vec<String> {
    let mut cols: Vec<String> = [
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cost_nano_usd",
        "cache_hits",
        "errors",
    ]
    .map(String::from)
    .to_vec();
    cols.extend((0..BUCKETS).map(|i| format!("lat_{i}")));
    cols.push("ttft_count".into());
    cols.extend((0..BUCKETS).map(|i| format!("ttft_{i}")));
    cols
}

const CAP: i64 = 1_000_000_000_000_000_000;

impl Counts {
    pub fn values(&self) -> Vec<i64> {
        let mut v = vec![
            self.requests,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost_nano_usd,
            self.cache_hits,
            self.errors,
        ];
        v.extend(self.latency);
        v.push(self.ttft_count);
        v.extend(self.ttft);
        v
    }

    /// Counts read back in `values`' order.
    pub fn from_values(v: &[i64]) -> Self {
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        let mut c = Counts {
            requests: at(0),
            prompt_tokens: at(1),
            completion_tokens: at(2),
            cost_nano_usd: at(3),
            cache_hits: at(4),
            errors: at(5),
            ..Counts::default()
        };
        for i in 0..BUCKETS {
            c.latency[i] = at(6 + i);
            c.ttft[i] = at(7 + BUCKETS + i);
        }
        c.ttft_count = at(6 + BUCKETS);
        c
    }

    /// Adds `other`, every sum held within the money ceiling the log keeps (no wrap).
    pub fn add(&mut self, other: &Counts) {
        let add = |a: &mut i64, b: i64| *a = a.saturating_add(b).clamp(-CAP, CAP);
        add(&mut self.requests, other.requests);
        add(&mut self.prompt_tokens, other.prompt_tokens);
        add(&mut self.completion_tokens, other.completion_tokens);
        add(&mut self.cost_nano_usd, other.cost_nano_usd);
        add(&mut self.cache_hits, other.cache_hits);
        add(&mut self.errors, other.errors);
        add(&mut self.ttft_count, other.ttft_count);
        for i in 0..BUCKETS {
            add(&mut self.latency[i], other.latency[i]);
            add(&mut self.ttft[i], other.ttft[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_days_and_percentiles() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(50), 0);
        assert_eq!(bucket(51), 1);
        assert_eq!(bucket(30_000), 12);
        assert_eq!(bucket(30_001), 13);
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_795_000_000_000_000), "2026-11-18");
        let mut h = [0; BUCKETS];
        h[bucket(40)] = 50;
        h[bucket(900)] = 45;
        h[bucket(40_000)] = 5;
        assert_eq!(percentile(&h, 50), 50);
        assert_eq!(percentile(&h, 95), 1_000);
        assert_eq!(percentile(&h, 99), ABOVE);
        assert_eq!(percentile(&[0; BUCKETS], 50), 0);
        let c = Counts {
            requests: 2,
            errors: 1,
            latency: h,
            ttft_count: 1,
            ..Counts::default()
        };
        assert_eq!(Counts::from_values(&c.values()), c);
        assert_eq!(c.values().len(), count_columns().len());
    }
}
