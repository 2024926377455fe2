//! Webhooks and their alerts in the read models.

use tollgate_aggregates::alert::AlertEvent;
use tollgate_aggregates::webhook::WebhookEvent;

use super::{owner_of, Tx};
use crate::{Result, StoredEvent};

pub(super) async fn apply(
    tx: &mut Tx<'_>,
    ev: &StoredEvent,
    event: &WebhookEvent,
) -> Result<Option<String>> {
    let id = ev.aggregate_id.as_str();
    match event {
        WebhookEvent::WebhookCreated {
            organization_id,
            project_id,
            url,
            events,
            thresholds_percent,
            credits_below_nano_usd,
            encrypted_secret,
        } => {
            let text = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "[]".into());
            sqlx::query(
                "INSERT INTO rm_webhooks (id, organization_id, project_id, url, events, thresholds, \
                 credits_below_nano_usd, encrypted_secret, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(organization_id)
            .bind(project_id.as_deref())
            .bind(url)
            .bind(text(serde_json::to_string(events)))
            .bind(text(serde_json::to_string(thresholds_percent)))
            .bind(*credits_below_nano_usd)
            .bind(encrypted_secret)
            .bind(ev.recorded_at)
            .execute(&mut **tx)
            .await?;
            Ok(Some(organization_id.clone()))
        }
        WebhookEvent::WebhookDeleted => {
            sqlx::query("UPDATE rm_webhooks SET deleted = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            owner_of(tx, "rm_webhooks", id).await
        }
    }
}

pub(super) async fn apply_alert(
    tx: &mut Tx<'_>,
    ev: &StoredEvent,
    event: &AlertEvent,
) -> Result<Option<String>> {
    let id = ev.aggregate_id.as_str();
    match event {
        AlertEvent::AlertRaised {
            webhook_id,
            organization_id,
            kind,
            body,
            raised_at,
        } => {
            sqlx::query(
                "INSERT INTO rm_alerts (id, webhook_id, organization_id, kind, body, raised_at, \
                 next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(id)
            .bind(webhook_id)
            .bind(organization_id)
            .bind(kind.as_str())
            .bind(body)
            .bind(*raised_at)
            .execute(&mut **tx)
            .await?;
            return Ok(Some(organization_id.clone()));
        }
        AlertEvent::DeliveryClaimed { .. } => {}
        AlertEvent::DeliveryAttempted {
            attempt,
            status,
            error,
            delivered,
            at,
            next_attempt_at,
        } => {
            sqlx::query(
                "UPDATE rm_alerts SET attempts = $1, delivered = $2, next_attempt_at = $3 \
                 WHERE id = $4",
            )
            .bind(i64::from(*attempt))
            .bind(i64::from(*delivered))
            .bind(*next_attempt_at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO rm_alert_attempts (alert_id, attempt, at, status, error, delivered) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(i64::from(*attempt))
            .bind(*at)
            .bind(status.map(i64::from))
            .bind(error.as_deref())
            .bind(i64::from(*delivered))
            .execute(&mut **tx)
            .await?;
        }
    }
    owner_of(tx, "rm_alerts", id).await
}
