//! Sending the alerts that are due: each attempt is claimed first (so that two replicas do
//! not both send it), signed, posted, and recorded with its outcome.

use std::time::Duration;

use tollgate_aggregates::alert::AlertCommand;
use tollgate_projections::read;

use super::sign::signature;
use crate::app::App;

/// How long a claimed attempt may take before another replica may try.
const CLAIM_SECONDS: i64 = 30;
const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(app: &App) -> anyhow::Result<()> {
    let now = app.proxy.state.clock.now();
    for alert in read::alerts_due(&app.db, now, 50).await? {
        let Some(webhook) = read::webhook(&app.db, &alert.webhook_id).await? else {
            continue;
        };
        let attempt = u32::try_from(alert.attempts + 1).unwrap_or(u32::MAX);
        let claim = AlertCommand::Claim {
            attempt,
            now,
            until: now + CLAIM_SECONDS,
        };
        if app
            .execute(&app.alerts, &alert.id, claim, &super::meta())
            .await
            .is_err()
        {
            // Another replica has it, or it was recorded meanwhile.
            continue;
        }
        let secret = app.cipher.decrypt(&webhook.encrypted_secret)?;
        let (status, error) = match post(app, &webhook.url, &alert, &secret, now).await {
            Ok(status) => (Some(status), None),
            Err(e) => (None, Some(e)),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let record = AlertCommand::Record {
            attempt,
            status,
            error,
            delivered,
            now: app.proxy.state.clock.now(),
        };
        app.execute(&app.alerts, &alert.id, record, &super::meta())
            .await?;
    }
    Ok(())
}

async fn post(
    app: &App,
    url: &str,
    alert: &read::AlertRow,
    secret: &str,
    now: i64,
) -> Result<u16, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad url: {e}"))?;
    let host = crate::proxy::providers::http::host_header(&uri);
    let request = app
        .proxy
        .http
        .post(uri)
        .host(host)
        .header("content-type", "application/json")
        .header("x-tollgate-event", alert.kind.as_str())
        .header("x-tollgate-delivery", alert.id.as_str())
        .header(
            "x-tollgate-signature",
            signature(secret, now, &alert.body).as_str(),
        )
        .body(bytes::Bytes::from(alert.body.clone()));
    match tokio::time::timeout(TIMEOUT, request.send()).await {
        Ok(Ok(response)) => Ok(response.status().as_u16()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}
