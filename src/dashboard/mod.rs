//! The web dashboard and playground, served by `tollgate serve` at `/`: pages rendered on
//! the server from compile-time checked templates (`templates/`), a little plain JavaScript,
//! uPlot for charts and Swagger UI for the API reference, all embedded in the binary
//! (`assets`). Every page is a client of the management API and the proxy in the same
//! process (`client`), as the signed-in member (`session`), so it shows and allows exactly
//! what the API does for that member.

mod alerts;
mod assets;
mod audit;
mod client;
mod keys;
mod layout;
mod orgs;
mod playground;
mod projects;
mod session;
mod usage;
mod view;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use dashmap::DashMap;

use crate::crypto::Cipher;
pub use client::Api;

/// What every dashboard handler shares.
#[derive(Clone)]
pub struct Dash {
    api: Api,
    cipher: Cipher,
    /// Nonces of sessions signed out on this replica -> when they would have expired.
    revoked: Arc<DashMap<String, i64>>,
    /// One message per session, shown once on the next page (a new token, an error).
    flash: Arc<DashMap<String, layout::Flash>>,
    /// The playground's key token per (member, project), held in memory only.
    playground: Arc<DashMap<(String, String), String>>,
}

/// The dashboard's routes over `api`, the gateway's own router (management API and proxy).
pub fn router(api: Router, cipher: Cipher) -> Router {
    let dash = Dash {
        api: Api::new(api),
        cipher,
        revoked: Arc::default(),
        flash: Arc::default(),
        playground: Arc::default(),
    };
    Router::new()
        .route("/", get(orgs::home))
        .route("/sign-in", get(layout::sign_in_page).post(layout::sign_in))
        .route("/sign-out", post(layout::sign_out))
        .route("/assets/{file}", get(assets::serve))
        .route("/organizations", post(orgs::create))
        .route("/organizations/{id}", get(orgs::page))
        .route("/organizations/{id}/projects", post(orgs::create_project))
        .route("/organizations/{id}/members", post(orgs::add_member))
        .route(
            "/organizations/{id}/members/{member}/{action}",
            post(orgs::member_action),
        )
        .route("/organizations/{id}/credits", post(orgs::add_credits))
        .route(
            "/organizations/{id}/alerts",
            get(alerts::page).post(alerts::create),
        )
        .route("/webhooks/{id}/delete", post(alerts::delete))
        .route("/webhooks/{id}/deliveries", get(alerts::deliveries))
        .route("/projects/{id}", get(projects::page).post(projects::update))
        .route("/projects/{id}/delete", post(projects::delete))
        .route("/projects/{id}/keys", post(projects::create_key))
        .route(
            "/projects/{id}/provider-keys",
            post(projects::add_provider_key),
        )
        .route(
            "/provider-keys/{id}/{action}",
            post(projects::provider_key_action),
        )
        .route("/keys/{id}", get(keys::page))
        .route("/keys/{id}/rules", post(keys::set_rules))
        .route("/keys/{id}/limits", post(keys::limits))
        .route("/keys/{id}/{action}", post(keys::action))
        .route("/projects/{id}/usage", get(usage::page))
        .route("/projects/{id}/logs/{request_id}", get(usage::detail))
        .route("/audit", get(audit::page))
        .route("/projects/{id}/as-of", get(audit::project_as_of))
        .route("/keys/{id}/as-of", get(audit::key_as_of))
        .route("/playground", get(playground::page))
        .route("/playground/chat", post(playground::chat))
        .route("/playground/models/{project}", get(playground::models))
        .route(
            "/playground/usage/{project}/{request_id}",
            get(playground::usage),
        )
        .route("/api-reference", get(layout::api_reference))
        .with_state(dash)
}
