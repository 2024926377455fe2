//! Which alerts are due: thresholds crossed and limits reached by keys and projects, and
//! credits below a webhook's balance, each named so that it is raised once per period.

use std::collections::HashSet;

use serde_json::json;
use tollgate_aggregates::alert::AlertCommand;
use tollgate_aggregates::webhook::AlertKind;
use tollgate_projections::read::{self, WebhookRow};

use crate::api::units::{time_of_secs, usd};
use crate::app::App;

/// What a limit is on.
struct Subject<'a> {
    kind: &'static str,
    id: &'a str,
    /// 0 for a lifetime limit, else the period's start (Unix seconds).
    period_start: i64,
}

pub async fn run(app: &App, raised: &mut HashSet<String>) -> anyhow::Result<()> {
    let now = app.proxy.state.clock.now();
    for w in read::live_webhooks(&app.db).await? {
        let projects = match &w.project_id {
            Some(id) => read::project(&app.db, id).await?.into_iter().collect(),
            None => read::projects_of(&app.db, &w.organization_id).await?,
        };
        for p in projects.iter().filter(|p| !p.archived) {
            if let Some(b) = p.period_budget {
                let start = b.period.start(now);
                let spent = read::period_spend(&app.db, "project", &p.id, start).await?;
                let subject = Subject {
                    kind: "project",
                    id: &p.id,
                    period_start: start,
                };
                check(app, &w, raised, subject, spent, b.limit_nano_usd, now).await?;
            }
            for k in read::api_keys_of(&app.db, &p.id).await? {
                if let Some(limit) = k.usage_limit_nano_usd {
                    let (spent, _) = read::spend(&app.db, "key", &k.id).await?;
                    let subject = Subject {
                        kind: "key",
                        id: &k.id,
                        period_start: 0,
                    };
                    check(app, &w, raised, subject, spent, limit, now).await?;
                }
                if let Some(b) = k.period_budget {
                    let start = b.period.start(now);
                    let spent = read::period_spend(&app.db, "key", &k.id, start).await?;
                    let subject = Subject {
                        kind: "key",
                        id: &k.id,
                        period_start: start,
                    };
                    check(app, &w, raised, subject, spent, b.limit_nano_usd, now).await?;
                }
            }
        }
        credits(app, &w, raised, now).await?;
    }
    Ok(())
}

/// Raises what `spent` against `limit` has crossed.
async fn check(
    app: &App,
    w: &WebhookRow,
    raised: &mut HashSet<String>,
    subject: Subject<'_>,
    spent: i64,
    limit: i64,
    now: i64,
) -> anyhow::Result<()> {
    let percent = match limit {
        0 => 100,
        l => i128::from(spent) * 100 / i128::from(l),
    };
    let mut due: Vec<(AlertKind, u8)> = Vec::new();
    if w.events.contains(&AlertKind::SpendThreshold) {
        let crossed = w
            .thresholds_percent
            .iter()
            .filter(|t| i128::from(**t) <= percent);
        due.extend(crossed.map(|t| (AlertKind::SpendThreshold, *t)));
    }
    if w.events.contains(&AlertKind::LimitReached) && spent >= limit {
        due.push((AlertKind::LimitReached, 100));
    }
    for (kind, threshold) in due {
        let body = json!({
            "type": kind.as_str(),
            "subject": {"type": subject.kind, "id": subject.id},
            "threshold_percent": threshold,
            "spend_usd": usd(spent),
            "limit_usd": usd(limit),
            "period_start": (subject.period_start > 0).then(|| time_of_secs(subject.period_start)),
        });
        let name = format!(
            "{}:{}:{}:{}:{threshold}:{}",
            w.id,
            kind.as_str(),
            subject.kind,
            subject.id,
            subject.period_start
        );
        raise(app, w, raised, name, kind, body, now).await?;
    }
    Ok(())
}

/// Credits below the webhook's balance: once per credit grant (a top-up starts anew).
async fn credits(
    app: &App,
    w: &WebhookRow,
    raised: &mut HashSet<String>,
    now: i64,
) -> anyhow::Result<()> {
    let Some(below) = w.credits_below_nano_usd else {
        return Ok(());
    };
    if !w.events.contains(&AlertKind::CreditsLow) {
        return Ok(());
    }
    let Some(org) = read::organization(&app.db, &w.organization_id).await? else {
        return Ok(());
    };
    if org.credits_nano_usd >= below {
        return Ok(());
    }
    let grants = read::credit_grant_count(&app.db, &org.id).await?;
    let body = json!({
        "type": AlertKind::CreditsLow.as_str(),
        "subject": {"type": "organization", "id": org.id},
        "balance_usd": usd(org.credits_nano_usd),
        "below_usd": usd(below),
    });
    let name = format!("{}:credits_low:{}:{grants}", w.id, org.id);
    raise(app, w, raised, name, AlertKind::CreditsLow, body, now).await
}

async fn raise(
    app: &App,
    w: &WebhookRow,
    raised: &mut HashSet<String>,
    name: String,
    kind: AlertKind,
    mut body: serde_json::Value,
    now: i64,
) -> anyhow::Result<()> {
    if raised.contains(&name) {
        return Ok(());
    }
    body["id"] = json!(name);
    body["webhook_id"] = json!(w.id);
    body["organization_id"] = json!(w.organization_id);
    body["created_at"] = json!(time_of_secs(now));
    let cmd = AlertCommand::Raise {
        webhook_id: w.id.clone(),
        organization_id: w.organization_id.clone(),
        kind,
        body: body.to_string(),
        now,
    };
    app.execute(&app.alerts, &name, cmd, &super::meta()).await?;
    raised.insert(name);
    Ok(())
}
