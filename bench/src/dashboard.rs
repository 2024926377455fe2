//! The dashboard's usage page timed whole over HTTP (sign-in cookie, the page's API calls,
//! its template) on a gateway serving the database the rebuild filled.

use std::time::Instant;

use serde_json::json;

use crate::procs::{free_port, start, terminate};
use crate::{admin, ADMIN, SECRET_KEY};

/// A gateway on `url` with nothing but the admin token and the secret key.
async fn gateway(url: &str, spool: &std::path::Path) -> crate::procs::Proc {
    let env = [
        ("TOLLGATE_DATABASE_URL", url.to_string()),
        ("TOLLGATE_ADMIN_TOKEN", ADMIN.to_string()),
        ("TOLLGATE_SECRET_KEY", SECRET_KEY.to_string()),
        ("RUST_LOG", "warn".to_string()),
        ("TOLLGATE_SPOOL_DIR", spool.display().to_string()),
    ];
    start("--serve-gateway", free_port(), &env, "/readyz").await
}

/// Creates an organization and a project through the API on a fresh database; their ids.
pub async fn create_project(url: &str, spool: &std::path::Path) -> (String, String) {
    let mut gw = gateway(url, spool).await;
    let client = reqwest::Client::new();
    let org = admin(
        &client,
        &gw.base,
        "/api/organizations",
        json!({"name": "bench"}),
    )
    .await;
    let org = org["id"].as_str().unwrap_or_default().to_string();
    let project = admin(
        &client,
        &gw.base,
        "/api/projects",
        json!({"organization_id": org, "name": "usage", "mode": "api-keys"}),
    )
    .await;
    let project = project["id"].as_str().unwrap_or_default().to_string();
    terminate(&mut gw);
    (org, project)
}

/// The median time (ms, of 7, after one warm-up) of `GET /projects/{id}/usage` over the
/// records' 30 days, signed in as the admin; asserts the page shows the records.
pub async fn usage_page(
    url: &str,
    spool: &std::path::Path,
    project: &str,
    days: (&str, &str),
) -> f64 {
    let mut gw = gateway(url, spool).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = client
        .post(format!("{}/sign-in", gw.base))
        .form(&[("token", ADMIN)])
        .send()
        .await
        .expect("sign in");
    let cookie = signed
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a sign-in cookie")
        .to_string();
    let page = format!(
        "{}/projects/{project}/usage?from={}&to={}",
        gw.base, days.0, days.1
    );
    let mut times = Vec::new();
    for i in 0..8 {
        let t = Instant::now();
        let r = client
            .get(&page)
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await
            .expect("usage page");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        assert!(status.is_success(), "usage page: {status}");
        assert!(
            body.contains("gpt-4o-mini"),
            "the usage page shows no records"
        );
        if i > 0 {
            times.push(elapsed);
        }
    }
    terminate(&mut gw);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
