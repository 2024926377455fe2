//! Shared budget counters (`budget_counters`): replicas take slices of a limit from one row in
//! an atomic statement, so that what they take between them never passes the limit.

use sqlx::Row;

use crate::{Db, Result};

/// One counter: a scope and a period (0 for a lifetime limit).
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    pub scope: &'a str,
    pub period_start: i64,
}

const TAKE: &str = "UPDATE budget_counters SET used = used + $1 \
    WHERE scope = $2 AND period_start = $3 AND used + $1 <= $4 RETURNING used";
const CREATE: &str = "INSERT INTO budget_counters (scope, period_start, used) VALUES ($1, $2, $3) \
    ON CONFLICT (scope, period_start) DO NOTHING";
const USED: &str = "SELECT used FROM budget_counters WHERE scope = $1 AND period_start = $2";
const GIVE_BACK: &str = "UPDATE budget_counters SET used = used - $1 \
    WHERE scope = $2 AND period_start = $3";

/// What a take found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Granted; the counter now stands at `used`.
    Granted { used: i64 },
    /// Refused: the counter stands at `used`, and `amount` more would pass the limit.
    Refused { used: i64 },
}

/// Takes `amount` under `limit`, all or nothing. A counter seen for the first time starts at
/// `initial` (what was spent before counting began).
pub async fn take(db: &Db, c: Counter<'_>, initial: i64, amount: i64, limit: i64) -> Result<Taken> {
    for _ in 0..2 {
        let row = sqlx::query(TAKE)
            .bind(amount)
            .bind(c.scope)
            .bind(c.period_start)
            .bind(limit)
            .fetch_optional(&db.any)
            .await?;
        if let Some(row) = row {
            return Ok(Taken::Granted {
                used: row.try_get("used")?,
            });
        }
        let used: Option<i64> = sqlx::query(USED)
            .bind(c.scope)
            .bind(c.period_start)
            .fetch_optional(&db.any)
            .await?
            .map(|r| r.try_get("used"))
            .transpose()?;
        if let Some(used) = used {
            return Ok(Taken::Refused { used });
        }
        sqlx::query(CREATE)
            .bind(c.scope)
            .bind(c.period_start)
            .bind(initial)
            .execute(&db.any)
            .await?;
    }
    // Created, then taken by others past the limit before our second try: refused.
    Ok(Taken::Refused { used: limit })
}

/// Gives back what was taken and not spent.
pub async fn give_back(db: &Db, c: Counter<'_>, amount: i64) -> Result<()> {
    sqlx::query(GIVE_BACK)
        .bind(amount)
        .bind(c.scope)
        .bind(c.period_start)
        .execute(&db.any)
        .await?;
    Ok(())
}
