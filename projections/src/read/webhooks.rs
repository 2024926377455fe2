//! Webhooks, the alerts raised for them and their delivery attempts.

use sqlx::any::AnyRow;
use sqlx::Row;
use tollgate_aggregates::webhook::AlertKind;

use super::flag;
use crate::{Db, Error, Result};

#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub organization_id: String,
    pub project_id: Option<String>,
    pub url: String,
    pub events: Vec<AlertKind>,
    pub thresholds_percent: Vec<u8>,
    pub credits_below_nano_usd: Option<i64>,
    pub encrypted_secret: String,
    pub deleted: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct AlertRow {
    pub id: String,
    pub webhook_id: String,
    pub organization_id: String,
    pub kind: String,
    pub body: String,
    pub raised_at: i64,
    pub attempts: i64,
    pub delivered: bool,
    pub next_attempt_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub delivered: bool,
}

fn webhook_row(r: &AnyRow) -> Result<WebhookRow> {
    let json = |col: &str| -> Result<String> { Ok(r.try_get(col)?) };
    let bad = |e: serde_json::Error| Error::Decode {
        position: 0,
        reason: e.to_string(),
    };
    Ok(WebhookRow {
        id: r.try_get("id")?,
        organization_id: r.try_get("organization_id")?,
        project_id: r.try_get("project_id")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&json("events")?).map_err(bad)?,
        thresholds_percent: serde_json::from_str(&json("thresholds")?).map_err(bad)?,
        credits_below_nano_usd: r.try_get("credits_below_nano_usd")?,
        encrypted_secret: r.try_get("encrypted_secret")?,
        deleted: flag(r, "deleted")?,
        created_at: r.try_get("created_at")?,
    })
}

fn alert_row(r: &AnyRow) -> Result<AlertRow> {
    Ok(AlertRow {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        organization_id: r.try_get("organization_id")?,
        kind: r.try_get("kind")?,
        body: r.try_get("body")?,
        raised_at: r.try_get("raised_at")?,
        attempts: r.try_get("attempts")?,
        delivered: flag(r, "delivered")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
    })
}

pub async fn webhook(db: &Db, id: &str) -> Result<Option<WebhookRow>> {
    let row = sqlx::query("SELECT * FROM rm_webhooks WHERE id = $1 AND deleted = 0")
        .bind(id)
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(webhook_row).transpose()
}

pub async fn webhooks_of(db: &Db, organization_id: &str) -> Result<Vec<WebhookRow>> {
    let rows = sqlx::query(
        "SELECT * FROM rm_webhooks WHERE organization_id = $1 AND deleted = 0 ORDER BY created_at, id",
    )
    .bind(organization_id)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(webhook_row).collect()
}

/// Every webhook not deleted, of every organization.
pub async fn live_webhooks(db: &Db) -> Result<Vec<WebhookRow>> {
    let rows = sqlx::query("SELECT * FROM rm_webhooks WHERE deleted = 0 ORDER BY created_at, id")
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(webhook_row).collect()
}

/// Undelivered alerts whose next attempt is due at `now`, oldest first.
pub async fn alerts_due(db: &Db, now: i64, limit: i64) -> Result<Vec<AlertRow>> {
    let rows = sqlx::query(
        "SELECT * FROM rm_alerts WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1 \
         AND webhook_id IN (SELECT id FROM rm_webhooks WHERE deleted = 0) \
         ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(alert_row).collect()
}

/// A webhook's alerts, newest first.
pub async fn alerts_of(db: &Db, webhook_id: &str) -> Result<Vec<AlertRow>> {
    let rows = sqlx::query(
        "SELECT * FROM rm_alerts WHERE webhook_id = $1 ORDER BY raised_at DESC, id LIMIT 500",
    )
    .bind(webhook_id)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(alert_row).collect()
}

pub async fn alert_attempts(db: &Db, alert_id: &str) -> Result<Vec<AttemptRow>> {
    let rows = sqlx::query("SELECT * FROM rm_alert_attempts WHERE alert_id = $1 ORDER BY attempt")
        .bind(alert_id)
        .fetch_all(&db.any)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRow {
                attempt: r.try_get("attempt")?,
                at: r.try_get("at")?,
                status: r.try_get("status")?,
                error: r.try_get("error")?,
                delivered: flag(r, "delivered")?,
            })
        })
        .collect()
}

/// How many times the organization was given credits (a new grant starts a new period for
/// low-credit alerts).
pub async fn credit_grant_count(db: &Db, organization_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM rm_credit_grants WHERE organization_id = $1")
        .bind(organization_id)
        .fetch_one(&db.any)
        .await?;
    Ok(row.try_get("n")?)
}
