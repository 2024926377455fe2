//! A batch's spend: requests and cost per key, project and organization, by hour per key and
//! project (period budgets sum those), and credits charged per organization. Consecutive
//! records of one key in one hour (a batch is mostly a few busy keys') are summed as a run and
//! added to the maps when the run ends: a record costs three comparisons instead of seven hash
//! lookups. The sums commute, so the totals are those of adding record by record.

use tollgate_aggregates::types::add_nanos;
use tollgate_aggregates::usage::UsageRecord;

/// The batch's maps are keyed by ids the gateway generated, so a fast hash is safe.
pub(super) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Requests and cost by hour (its start, Unix seconds).
type Hours = Map<i64, (i64, i64)>;

/// The scopes of the totals, in order: a run's ids are in this order too.
pub(super) const SPEND_SCOPES: [&str; 3] = ["key", "project", "organization"];

#[derive(Default)]
pub(super) struct Spend {
    /// Requests and cost per id, one map per scope of `SPEND_SCOPES`.
    totals: [Map<String, (i64, i64)>; 3],
    /// Requests and cost per hour, by key and by project (the first two scopes).
    hourly: [Map<String, Hours>; 2],
    credits: Map<String, i64>,
    run: Option<Run>,
}

/// Records of one key (so one project and organization) in one hour, summed.
struct Run {
    ids: [String; 3],
    hour: i64,
    requests: i64,
    cost: i64,
    charged: i64,
}

impl Spend {
    pub(super) fn add(&mut self, r: &UsageRecord) {
        let hour = (r.started_at.div_euclid(1_000_000)).div_euclid(3600) * 3600;
        let same = self.run.as_ref().is_some_and(|run| {
            run.hour == hour
                && run.ids[0] == r.key_id
                && run.ids[1] == r.project_id
                && run.ids[2] == r.organization_id
        });
        if !same {
            self.end_run();
        }
        let run = self.run.get_or_insert_with(|| Run {
            ids: [
                r.key_id.clone(),
                r.project_id.clone(),
                r.organization_id.clone(),
            ],
            hour,
            requests: 0,
            cost: 0,
            charged: 0,
        });
        run.requests = run.requests.saturating_add(1);
        run.cost = add_nanos(run.cost, r.total_nano_usd());
        run.charged = add_nanos(run.charged, r.charged_to_credits());
    }

    fn end_run(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        let add = |e: &mut (i64, i64)| {
            e.0 = e.0.saturating_add(run.requests);
            e.1 = add_nanos(e.1, run.cost);
        };
        for (totals, id) in self.totals.iter_mut().zip(&run.ids) {
            add(totals.entry(id.clone()).or_default());
        }
        for (hours, id) in self.hourly.iter_mut().zip(&run.ids) {
            add(hours
                .entry(id.clone())
                .or_default()
                .entry(run.hour)
                .or_default());
        }
        if run.charged != 0 {
            let [_, _, org] = run.ids;
            let c = self.credits.entry(org).or_default();
            *c = add_nanos(*c, run.charged);
        }
    }

    /// The spend by hour as (scope, id, hour, requests, cost), taken out.
    pub(super) fn take_hourly(&mut self) -> Vec<(&'static str, String, i64, i64, i64)> {
        self.end_run();
        let mut rows = Vec::new();
        for (scope, hours) in SPEND_SCOPES
            .into_iter()
            .zip(std::mem::take(&mut self.hourly))
        {
            for (id, by_hour) in hours {
                for (hour, (n, cost)) in by_hour {
                    rows.push((scope, id.clone(), hour, n, cost));
                }
            }
        }
        rows
    }

    /// The totals as (scope, id, (requests, cost)), and the credits charged per organization.
    #[allow(clippy::type_complexity)]
    pub(super) fn into_parts(
        mut self,
    ) -> (
        impl Iterator<Item = (&'static str, String, (i64, i64))>,
        Map<String, i64>,
    ) {
        self.end_run();
        let rows = SPEND_SCOPES
            .into_iter()
            .zip(self.totals)
            .flat_map(|(scope, totals)| totals.into_iter().map(move |(id, t)| (scope, id, t)));
        (rows, self.credits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_aggregates::usage::PaidWith;

    fn record(key: &str, project: &str, at_secs: i64, cost: i64, credits: bool) -> UsageRecord {
        UsageRecord {
            key_id: key.into(),
            project_id: project.into(),
            organization_id: "o".into(),
            started_at: at_secs * 1_000_000,
            cost_nano_usd: cost,
            paid_with: if credits {
                PaidWith::Credits
            } else {
                PaidWith::OwnKey
            },
            ..UsageRecord::default()
        }
    }

    #[test]
    fn runs_sum_to_what_record_by_record_gives() {
        let mut spend = Spend::default();
        // Runs broken by another key, by a new hour, and a key coming back.
        let records = [
            record("a", "p", 10, 5, true),
            record("a", "p", 20, 7, false),
            record("b", "p", 30, 11, true),
            record("a", "p", 3_700, 13, true),
            record("a", "p", 40, 17, false),
        ];
        for r in &records {
            spend.add(r);
        }
        let mut hourly = spend.take_hourly();
        hourly.sort();
        assert_eq!(
            hourly,
            [
                ("key", "a".into(), 0, 3, 29),
                ("key", "a".into(), 3_600, 1, 13),
                ("key", "b".into(), 0, 1, 11),
                ("project", "p".into(), 0, 4, 40),
                ("project", "p".into(), 3_600, 1, 13),
            ]
        );
        let (totals, credits) = spend.into_parts();
        let mut totals: Vec<_> = totals.collect();
        totals.sort();
        assert_eq!(
            totals,
            [
                ("key", "a".into(), (4, 42)),
                ("key", "b".into(), (1, 11)),
                ("organization", "o".into(), (5, 53)),
                ("project", "p".into(), (5, 53)),
            ]
        );
        assert_eq!(credits.get("o"), Some(&29));
    }

    #[test]
    fn nothing_charged_leaves_no_credit_row() {
        let mut spend = Spend::default();
        spend.add(&record("a", "p", 10, 5, false));
        let (_, credits) = spend.into_parts();
        assert!(credits.is_empty());
    }
}
