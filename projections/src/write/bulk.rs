//! Rows that many events add to the same few tables (the audit index, usage logs, spend and
//! credit totals) are gathered over a projector batch and written with multi-row statements
//! at its end, in the same transaction. Their updates commute, so deferring them within the
//! batch gives the same read models as applying them event by event.

use tollgate_aggregates::usage::UsageRecord;

use super::pg_array::Val;
use super::spend::{Map, Spend};
use super::Tx;
use crate::Result;

#[derive(Default)]
pub(crate) struct Bulk {
    audit: Vec<Vec<Val>>,
    usage: Vec<Vec<Val>>,
    /// Spend totals, by hour, and credits charged.
    spend: Spend,
    /// The daily rollup's rows this batch adds to.
    daily: super::daily::Days,
}

/// Rows per multi-row statement on SQLite (Postgres gets one array per column instead).
const ROWS_SQLITE: usize = 64;

impl Bulk {
    pub(crate) fn audit(&mut self, row: Vec<Val>) {
        self.audit.push(row);
    }

    /// Record `index` of the usage event at `position` (its row id keeps log order).
    pub(crate) fn usage(&mut self, position: i64, index: usize, r: UsageRecord) {
        self.daily.add(&r);
        self.spend.add(&r);
        let n = |v: u64| Val::I(i64::try_from(v).unwrap_or(i64::MAX));
        self.usage.push(vec![
            Val::I(position * ROW_IDS_PER_EVENT + index as i64),
            Val::I(position),
            Val::T(r.request_id),
            Val::T(r.organization_id.clone()),
            Val::T(r.project_id),
            Val::T(r.key_id),
            Val::T(r.endpoint),
            Val::T(r.requested_model),
            Val::T(r.model),
            Val::T(r.provider),
            Val::T(r.paid_with.as_str().into()),
            n(r.prompt_tokens),
            n(r.completion_tokens),
            n(r.cached_tokens),
            n(r.reasoning_tokens),
            n(r.cache_creation_tokens),
            Val::I(r.cost_nano_usd),
            Val::I(r.fee_nano_usd),
            Val::I(i64::from(r.estimated)),
            Val::I(i64::from(r.cached)),
            Val::I(i64::from(r.streamed)),
            Val::I(i64::from(r.status)),
            Val::OT(r.error_code),
            n(r.latency_ms),
            Val::OI(
                r.time_to_first_token_ms
                    .map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
            ),
            Val::I(r.started_at),
        ]);
    }

    /// Audit rows, usage rows, spend totals as (scope, id, (requests, cost)), and credits
    /// charged per organization.
    #[allow(clippy::type_complexity)]
    pub(super) fn into_parts(
        self,
    ) -> (
        Vec<Vec<Val>>,
        Vec<Vec<Val>>,
        impl Iterator<Item = (&'static str, String, (i64, i64))>,
        Map<String, i64>,
    ) {
        let (spend, credits) = self.spend.into_parts();
        (self.audit, self.usage, spend, credits)
    }

    /// The batch's spend by hour as (scope, id, hour, requests, cost), taken out.
    pub(super) fn take_hourly(&mut self) -> Vec<(&'static str, String, i64, i64, i64)> {
        self.spend.take_hourly()
    }

    /// The batch's upserts of the daily rollups, taken out.
    pub(super) fn take_daily(&mut self) -> Vec<super::daily::Upsert> {
        std::mem::take(&mut self.daily).upserts()
    }

    pub(crate) async fn flush(mut self, tx: &mut Tx<'_>, postgres: bool) -> Result<()> {
        for (sql, keys, counts) in self.take_daily() {
            let mut q = sqlx::query(sql);
            for k in keys {
                q = q.bind(k);
            }
            for v in counts.values() {
                q = q.bind(v);
            }
            q.execute(&mut **tx).await?;
        }
        for (scope, id, hour, requests, cost) in self.take_hourly() {
            sqlx::query(HOURLY_INSERT)
                .bind(scope)
                .bind(id)
                .bind(hour)
                .bind(requests)
                .bind(cost)
                .execute(&mut **tx)
                .await?;
        }
        insert(tx, "rm_audit", AUDIT_COLUMNS, self.audit, postgres).await?;
        insert(tx, "rm_usage_logs", USAGE_COLUMNS, self.usage, postgres).await?;
        let (spend, credits) = self.spend.into_parts();
        if postgres {
            let rows = spend.map(|(scope, id, (requests, cost))| {
                vec![
                    Val::T(scope.into()),
                    Val::T(id),
                    Val::I(requests),
                    Val::I(cost),
                ]
            });
            insert_unnest(
                tx,
                "rm_spend",
                SPEND_COLUMNS,
                rows.collect(),
                SPEND_CONFLICT,
            )
            .await?;
            return debit(tx, credits).await;
        }
        for (scope, id, (requests, cost)) in spend {
            sqlx::query(&format!(
                "INSERT INTO rm_spend ({}) VALUES ($1, $2, $3, $4) {SPEND_CONFLICT}",
                SPEND_COLUMNS.join(", ")
            ))
            .bind(scope)
            .bind(id)
            .bind(requests)
            .bind(cost)
            .execute(&mut **tx)
            .await?;
        }
        debit(tx, credits).await
    }
}

async fn debit(tx: &mut Tx<'_>, credits: Map<String, i64>) -> Result<()> {
    for (org, charged) in credits {
        sqlx::query(concat!(
            "UPDATE rm_organizations SET credits_nano_usd = ",
            clamped_sum!("credits_nano_usd - $1"),
            " WHERE id = $2"
        ))
        .bind(charged)
        .bind(org)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

const SPEND_COLUMNS: &[&str] = &["scope", "id", "requests", "cost_nano_usd"];

/// Adds to an hour's row.
macro_rules! hourly_conflict {
    () => {
        concat!(
            "ON CONFLICT (scope, id, hour_start) DO UPDATE SET \
            requests = rm_spend_hourly.requests + excluded.requests, cost_nano_usd = ",
            clamped_sum!("rm_spend_hourly.cost_nano_usd + excluded.cost_nano_usd")
        )
    };
}
pub(super) use hourly_conflict;

const HOURLY_INSERT: &str = concat!(
    "INSERT INTO rm_spend_hourly (scope, id, hour_start, requests, cost_nano_usd) \
     VALUES ($1, $2, $3, $4, $5) ",
    hourly_conflict!()
);

pub(super) const SPEND_CONFLICT: &str = concat!(
    "ON CONFLICT (scope, id) DO UPDATE SET \
    requests = rm_spend.requests + excluded.requests, cost_nano_usd = ",
    clamped_sum!("rm_spend.cost_nano_usd + excluded.cost_nano_usd")
);

pub(super) const AUDIT_COLUMNS: &[&str] = &[
    "position",
    "organization_id",
    "aggregate_type",
    "aggregate_id",
    "sequence",
    "event_type",
    "recorded_at",
];

/// Usage-log row ids: the event's position times this, plus the record's index in it.
const ROW_IDS_PER_EVENT: i64 = 10_000;

pub(super) const USAGE_COLUMNS: &[&str] = &[
    "id",
    "position",
    "request_id",
    "organization_id",
    "project_id",
    "key_id",
    "endpoint",
    "requested_model",
    "model",
    "provider",
    "paid_with",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cache_creation_tokens",
    "cost_nano_usd",
    "fee_nano_usd",
    "estimated",
    "cached",
    "streamed",
    "status",
    "error_code",
    "latency_ms",
    "time_to_first_token_ms",
    "started_at",
];

/// Rows in the next statement: `most`, or the largest power of 4 that fits. Statements then
/// come in a few shapes, which the connection's statement cache keeps prepared; a new shape
/// per batch size made every flush parse (SQLite) or plan (Postgres) its statements again.
fn statement_rows(left: usize, most: usize) -> usize {
    if left >= most {
        return most;
    }
    let mut n = 1;
    while n * 4 <= left {
        n *= 4;
    }
    n
}

/// One INSERT per table on Postgres: each column travels as one array literal, so a batch
/// binds a few parameters instead of one per value and the statement text never changes.
async fn insert_unnest(
    tx: &mut Tx<'_>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
    suffix: &str,
) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let types: Vec<&str> = first
        .iter()
        .map(|v| match v {
            Val::I(_) | Val::OI(_) => "bigint[]",
            Val::T(_) | Val::OT(_) => "text[]",
        })
        .collect();
    // Sized for ids of UUID length, so that big batches are not copied as they grow.
    let mut arrays: Vec<String> = (0..columns.len())
        .map(|_| {
            let mut a = String::with_capacity(rows.len() * 40 + 2);
            a.push('{');
            a
        })
        .collect();
    for (r, row) in rows.into_iter().enumerate() {
        for (array, v) in arrays.iter_mut().zip(row) {
            if r > 0 {
                array.push(',');
            }
            super::pg_array::push(array, &v);
        }
    }
    let args: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("CAST(${} AS {t})", i + 1))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT * FROM unnest({}) {suffix}",
        columns.join(", "),
        args.join(", ")
    );
    for array in &mut arrays {
        array.push('}');
    }
    // Bound as `&str`: the generic driver copies every `String` it is given.
    let mut q = sqlx::query(&sql);
    for array in &arrays {
        q = q.bind(array.as_str());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Multi-row INSERTs. SQLite gets anonymous `?` parameters: looking up numbered ones costs
/// time linear in their count for each one bound, which made large statements quadratic.
async fn insert(
    tx: &mut Tx<'_>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
    postgres: bool,
) -> Result<()> {
    if postgres {
        return insert_unnest(tx, table, columns, rows, "").await;
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let per_statement = statement_rows(rows.len(), ROWS_SQLITE);
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('?');
            }
            sql.push(')');
        }
        // Text is bound as `&str`: the generic driver copies every `String` it is given.
        let mut q = sqlx::query(&sql);
        for v in chunk.iter().flatten() {
            q = match v {
                Val::I(v) => q.bind(*v),
                Val::T(v) => q.bind(v.as_str()),
                Val::OI(v) => q.bind(*v),
                Val::OT(v) => q.bind(v.as_deref()),
            };
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::statement_rows;

    #[test]
    fn statements_come_in_few_shapes_and_cover_every_row() {
        let mut shapes = std::collections::BTreeSet::new();
        for total in 0..3000 {
            let (mut left, mut statements) = (total, 0);
            while left > 0 {
                let n = statement_rows(left, 400);
                assert!(n >= 1 && n <= left.min(400));
                shapes.insert(n);
                left -= n;
                statements += 1;
            }
            assert!(
                statements <= total / 400 + 4 * 3,
                "{total} rows: {statements}"
            );
        }
        assert_eq!(
            shapes.into_iter().collect::<Vec<_>>(),
            [1, 4, 16, 64, 256, 400]
        );
    }
}
