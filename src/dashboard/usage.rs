//! A project's usage: spend, requests, tokens, cache hit rate, errors and latency per day
//! (a chart) and per model, key and provider over a date range, from the API's summaries
//! (indexed read models); the logs with filters and paging; one request's detail.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{render, Layout};
use super::session::Session;
use super::view::{text, usd, Row};
use super::{assets, Dash};

#[derive(Deserialize, Default)]
pub struct Filters {
    /// `YYYY-MM-DD`, UTC.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    cursor: String,
}

impl Filters {
    /// The API's query string for these filters.
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if is_date(&self.from) {
            q.append_pair("since", &format!("{}T00:00:00Z", self.from));
        }
        if is_date(&self.to) {
            q.append_pair("until", &format!("{}T23:59:59Z", self.to));
        }
        for (k, v) in [
            ("model", &self.model),
            ("provider", &self.provider),
            ("key_id", &self.key_id),
            ("status", &self.status),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    l: Layout,
    id: String,
    name: String,
    f: Filters,
    totals: Vec<(String, String)>,
    tables: Vec<(String, Vec<Row>)>,
    logs: Vec<Row>,
    next: Option<String>,
    /// This page's own cursor, for its rows' detail links.
    here: String,
    series: String,
    error: Option<String>,
    uplot_js: String,
    uplot_css: String,
    charts_js: String,
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |n| format!("{:.1} %", n * 100.0))
}

fn group_row(g: &Value) -> Row {
    Row {
        id: text(g, "group"),
        cells: vec![
            text(g, "group"),
            text(g, "requests"),
            format!(
                "{} / {}",
                text(g, "prompt_tokens"),
                text(g, "completion_tokens")
            ),
            usd(&g["cost_usd"]),
            pct(&g["cache_hit_rate"]),
            pct(&g["error_rate"]),
            format!(
                "{} / {} ms",
                text(g, "latency_p50_ms"),
                text(g, "latency_p95_ms")
            ),
        ],
    }
}

/// `GET /projects/{id}/usage`.
pub async fn page(
    State(dash): State<Dash>,
    session: Session,
    Path(id): Path<String>,
    Query(mut f): Query<Filters>,
) -> Response {
    // The last 30 days unless a range is asked for.
    let today = chrono::Utc::now().date_naive();
    if !is_date(&f.from) && !is_date(&f.to) {
        f.from = (today - chrono::Days::new(29)).to_string();
        f.to = today.to_string();
    }
    let (t, rid) = (&session.token, &session.request_id);
    let p = dash.api.get(t, &format!("/api/projects/{id}"), rid).await;
    if !p.ok() {
        return super::layout::not_found(&dash, &session, &p.message());
    }
    let q = f.query();
    let summary = |by: &str| format!("/api/projects/{id}/usage-summary?group_by={by}&{q}");
    let mut logs_path = format!("/api/projects/{id}/usage-logs?limit=50&{q}");
    if !f.cursor.is_empty() {
        logs_path.push_str(&format!("&cursor={}", urlencode(&f.cursor)));
    }
    // The page's five reads at once: they are independent, and the database serves them
    // side by side.
    let paths = [
        summary("day"),
        summary("model"),
        summary("key"),
        summary("provider"),
        logs_path,
    ];
    let mut replies = futures::future::join_all(paths.iter().map(|p| dash.api.get(t, p, rid)))
        .await
        .into_iter();
    let mut next_reply = || replies.next().expect("one reply per path");
    let days = next_reply();
    let mut error = (!days.ok()).then(|| days.message());
    let groups = |v: &Value| v["groups"].as_array().cloned().unwrap_or_default();
    let day_groups = groups(&days.body);
    let sum = |k: &str| day_groups.iter().filter_map(|g| g[k].as_f64()).sum::<f64>();
    let requests = sum("requests");
    let weighted = |k: &str| match requests > 0.0 {
        true => {
            day_groups
                .iter()
                .map(|g| g[k].as_f64().unwrap_or(0.0) * g["requests"].as_f64().unwrap_or(0.0))
                .sum::<f64>()
                / requests
        }
        false => 0.0,
    };
    let totals = vec![
        ("Requests".into(), format!("{requests}")),
        ("Spend".into(), usd(&json!(sum("cost_usd")))),
        ("Prompt tokens".into(), format!("{}", sum("prompt_tokens"))),
        (
            "Completion tokens".into(),
            format!("{}", sum("completion_tokens")),
        ),
        (
            "Cache hit rate".into(),
            pct(&json!(weighted("cache_hit_rate"))),
        ),
        ("Error rate".into(), pct(&json!(weighted("error_rate")))),
    ];
    let series = series(&f, today, &day_groups);
    let mut tables = vec![(
        "Per day".to_string(),
        day_groups.iter().map(group_row).collect(),
    )];
    for title in ["Per model", "Per key", "Per provider"] {
        let r = next_reply();
        tables.push((
            title.to_string(),
            groups(&r.body).iter().map(group_row).collect(),
        ));
    }
    let logs = next_reply();
    if error.is_none() && !logs.ok() {
        error = Some(logs.message());
    }
    let rows = logs.body["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| Row {
            // A client's request id may hold any character: it goes in a path.
            id: urlencode(&text(l, "request_id")),
            cells: vec![
                text(l, "started_at"),
                text(l, "model"),
                text(l, "provider"),
                text(l, "status"),
                format!(
                    "{} / {}",
                    text(l, "prompt_tokens"),
                    text(l, "completion_tokens")
                ),
                usd(&l["cost_usd"]),
                format!("{} ms", text(l, "latency_ms")),
                match text(l, "time_to_first_token_ms") {
                    t if t.is_empty() => "-".into(),
                    t => format!("{t} ms"),
                },
                if l["cached"] == true {
                    "hit".into()
                } else {
                    "-".into()
                },
            ],
        })
        .collect();
    let next = logs.body["next_cursor"].as_str().map(|c| {
        let mut next = f.query();
        next.push_str(&format!(
            "&from={}&to={}&cursor={}",
            f.from,
            f.to,
            urlencode(c)
        ));
        next
    });
    render(&UsagePage {
        l: Layout::of(&dash, &session, "Usage"),
        name: text(&p.body, "name"),
        totals,
        tables,
        logs: rows,
        next,
        series,
        error,
        here: urlencode(&f.cursor),
        uplot_js: assets::url("uPlot.js"),
        uplot_css: assets::url("uPlot.css"),
        charts_js: assets::url("charts.js"),
        f,
        id,
    })
}

/// Requests and spend for every day of the range (a day without requests is a zero), for the
/// chart; at most a year of days.
fn series(f: &Filters, today: chrono::NaiveDate, groups: &[Value]) -> String {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let to = day(&f.to).unwrap_or(today);
    let from = day(&f.from)
        .unwrap_or(to - chrono::Days::new(29))
        .max(to - chrono::Days::new(365));
    let by_day: std::collections::HashMap<String, &Value> =
        groups.iter().map(|g| (text(g, "group"), g)).collect();
    let (mut days, mut requests, mut cost) = (Vec::new(), Vec::new(), Vec::new());
    for d in from.iter_days().take_while(|d| *d <= to) {
        let g = by_day.get(&d.to_string());
        days.push(d.to_string());
        requests.push(g.map_or(json!(0), |g| g["requests"].clone()));
        cost.push(g.map_or(json!(0.0), |g| g["cost_usd"].clone()));
    }
    json!({"days": days, "requests": requests, "cost": cost}).to_string()
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "usage_detail.html")]
struct Detail {
    l: Layout,
    id: String,
    request_id: String,
    json: String,
}

/// `GET /projects/{id}/logs/{request_id}?cursor=`: one request's records (its attempts listed
/// near it included).
pub async fn detail(
    State(dash): State<Dash>,
    session: Session,
    Path((id, request_id)): Path<(String, String)>,
    Query(at): Query<Filters>,
) -> Response {
    // The page of logs the request was listed on (its cursor), read again.
    let mut path = format!("/api/projects/{id}/usage-logs?limit=100");
    if !at.cursor.is_empty() {
        path.push_str(&format!("&cursor={}", urlencode(&at.cursor)));
    }
    let logs = dash
        .api
        .get(&session.token, &path, &session.request_id)
        .await;
    if !logs.ok() {
        return super::layout::not_found(&dash, &session, &logs.message());
    }
    let found: Vec<Value> = logs.body["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["request_id"] == request_id.as_str())
        .cloned()
        .collect();
    if found.is_empty() {
        return super::layout::not_found(
            &dash,
            &session,
            "No such request in this project's recent logs.",
        );
    }
    render(&Detail {
        l: Layout::of(&dash, &session, "Request"),
        json: serde_json::to_string_pretty(&found).unwrap_or_default(),
        id,
        request_id,
    })
}
