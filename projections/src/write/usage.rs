use tollgate_aggregates::usage::{UsageEvent, UsageRecord};

use super::Tx;
use crate::{Result, StoredEvent};

pub(super) async fn apply(
    tx: &mut Tx<'_>,
    ev: &StoredEvent,
    event: &UsageEvent,
) -> Result<Option<String>> {
    let UsageEvent::UsageRecorded(r) = event;
    insert_log(tx, ev.position, r).await?;
    let total = r.cost_nano_usd + r.fee_nano_usd;
    for (scope, id) in [
        ("key", &r.key_id),
        ("project", &r.project_id),
        ("organization", &r.organization_id),
    ] {
        sqlx::query(
            "INSERT INTO rm_spend (scope, id, requests, cost_nano_usd) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (scope, id) DO UPDATE SET requests = rm_spend.requests + 1, \
             cost_nano_usd = rm_spend.cost_nano_usd + excluded.cost_nano_usd",
        )
        .bind(scope)
        .bind(id)
        .bind(total)
        .execute(&mut **tx)
        .await?;
    }
    let charged = r.charged_to_credits();
    if charged != 0 {
        sqlx::query(
            "UPDATE rm_organizations SET credits_nano_usd = credits_nano_usd - $1 WHERE id = $2",
        )
        .bind(charged)
        .bind(&r.organization_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Some(r.organization_id.clone()))
}

async fn insert_log(tx: &mut Tx<'_>, position: i64, r: &UsageRecord) -> Result<()> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO rm_usage_logs (position, request_id, organization_id, project_id, key_id, endpoint, \
         requested_model, model, provider, paid_with, prompt_tokens, completion_tokens, cached_tokens, \
         reasoning_tokens, cost_nano_usd, fee_nano_usd, estimated, cached, streamed, status, error_code, \
         latency_ms, time_to_first_token_ms, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(position)
    .bind(&r.request_id)
    .bind(&r.organization_id)
    .bind(&r.project_id)
    .bind(&r.key_id)
    .bind(&r.endpoint)
    .bind(&r.requested_model)
    .bind(&r.model)
    .bind(&r.provider)
    .bind(r.paid_with.as_str())
    .bind(n(r.prompt_tokens))
    .bind(n(r.completion_tokens))
    .bind(n(r.cached_tokens))
    .bind(n(r.reasoning_tokens))
    .bind(r.cost_nano_usd)
    .bind(r.fee_nano_usd)
    .bind(i64::from(r.estimated))
    .bind(i64::from(r.cached))
    .bind(i64::from(r.streamed))
    .bind(i64::from(r.status))
    .bind(r.error_code.clone())
    .bind(n(r.latency_ms))
    .bind(r.time_to_first_token_ms.map(n))
    .bind(r.started_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
