//! What the proxy loads into memory at start: the money it tracks and the ids of everything
//! it serves, read together with the projector's checkpoint in one snapshot.

use sqlx::Row;

use crate::projector::{CHECKPOINT, READ_CHECKPOINT};
use crate::{Db, Result};

/// The read models at one checkpoint.
#[derive(Debug, Default)]
pub struct ProxySnapshot {
    /// The log position the snapshot reflects: following the log from here counts every
    /// later event exactly once.
    pub checkpoint: i64,
    /// Credits by organization id.
    pub balances: Vec<(String, i64)>,
    /// Every credit grant, by organization id (their sum is what the organization was ever
    /// given: the limit of what its replicas may charge between them).
    pub grants: Vec<(String, i64)>,
    /// Spend by API key id.
    pub key_spend: Vec<(String, i64)>,
    pub project_ids: Vec<String>,
    pub key_ids: Vec<String>,
}

/// Everything in one transaction (repeatable read on Postgres; SQLite's read transaction is
/// a snapshot already).
pub async fn proxy_snapshot(db: &Db) -> Result<ProxySnapshot> {
    let mut tx = db.any.begin().await?;
    if db.is_postgres() {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let checkpoint: i64 = sqlx::query(READ_CHECKPOINT)
        .bind(CHECKPOINT)
        .fetch_one(&mut *tx)
        .await?
        .try_get("position")?;
    let pairs = |rows: Vec<sqlx::any::AnyRow>, value: &str| -> Result<Vec<(String, i64)>> {
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get(value)?)))
            .collect()
    };
    let ids = |rows: Vec<sqlx::any::AnyRow>| -> Result<Vec<String>> {
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    };
    let balances = sqlx::query("SELECT id, credits_nano_usd FROM rm_organizations")
        .fetch_all(&mut *tx)
        .await?;
    let grants = sqlx::query("SELECT organization_id AS id, amount_nano_usd FROM rm_credit_grants")
        .fetch_all(&mut *tx)
        .await?;
    let spend = sqlx::query("SELECT id, cost_nano_usd FROM rm_spend WHERE scope = 'key'")
        .fetch_all(&mut *tx)
        .await?;
    let projects = sqlx::query("SELECT id FROM rm_projects")
        .fetch_all(&mut *tx)
        .await?;
    let keys = sqlx::query("SELECT id FROM rm_api_keys")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ProxySnapshot {
        checkpoint,
        balances: pairs(balances, "credits_nano_usd")?,
        grants: pairs(grants, "amount_nano_usd")?,
        key_spend: pairs(spend, "cost_nano_usd")?,
        project_ids: ids(projects)?,
        key_ids: ids(keys)?,
    })
}
