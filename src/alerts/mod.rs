//! Spend alerts, off the proxy's path: a background task looks at the read models every
//! `alerts.poll_ms`, raises an alert (at most once: see `tollgate_aggregates::alert`) for each
//! threshold a key's or project's spend has crossed in its period, each limit reached and
//! each organization whose credits fell below a webhook's balance, and delivers the alerts
//! due, signed, retrying with backoff for a day. Every replica runs it; the alert's events
//! keep two replicas from raising or sending one alert twice.

mod deliver;
mod evaluate;
pub mod sign;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::command::Meta;

/// Runs until the task is aborted.
pub fn spawn(app: Arc<App>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Alerts this process knows are raised: not raised again on every pass.
        let mut raised = HashSet::new();
        loop {
            if let Err(e) = evaluate::run(&app, &mut raised).await {
                tracing::warn!(error = %e, "spend alerts not evaluated");
            }
            if let Err(e) = deliver::run(&app).await {
                tracing::warn!(error = %e, "spend alerts not delivered");
            }
            tokio::time::sleep(every).await;
        }
    })
}

fn meta() -> Meta {
    Meta {
        actor: "alerts".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}
