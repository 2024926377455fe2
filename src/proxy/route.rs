//! Routing: which provider serves the request, with whose credentials, under the project's
//! mode and the key's IAM rules (checked against the provider actually chosen).

use std::sync::Arc;
use std::time::Duration;

use tollgate_aggregates::types::ProjectMode;
use tollgate_aggregates::usage::PaidWith;

use super::catalog::{Catalog, ModelEntry, ProviderOffer, ResolveError};
use super::error::ProxyError;
use super::iam;
use super::providers::{default_base_url, Target};
use super::state::{KeyEntry, ProjectEntry, ProxyState};
use crate::config::Config;

/// One way to send the request: a provider offer and the credentials to use.
#[derive(Debug, Clone)]
pub struct Route {
    pub model: Arc<ModelEntry>,
    pub offer: ProviderOffer,
    pub target: Target,
    pub paid_with: PaidWith,
    /// The project's provider key used, if any (to mark it failed).
    pub own_key_id: Option<String>,
}

/// The first route, and in hybrid mode the credits route to retry on when the own key fails.
#[derive(Debug)]
pub struct Plan {
    pub primary: Route,
    pub fallback: Option<Route>,
}

pub fn resolve(
    catalog: &Catalog,
    requested: &str,
) -> Result<(Arc<ModelEntry>, Vec<ProviderOffer>), ProxyError> {
    catalog.resolve(requested).map_err(|e| match e {
        ResolveError::ModelNotFound(m) => ProxyError::ModelNotFound(m),
        ResolveError::UnknownProvider(p) => ProxyError::InvalidRequest {
            message: format!("unknown provider '{p}'"),
            param: Some("model".into()),
            code: "unknown_provider",
        },
    })
}

fn base_url(config: &Config, provider: &str, own: Option<&str>) -> Option<String> {
    own.map(str::to_string)
        .or_else(|| {
            config
                .providers
                .get(provider)
                .and_then(|p| p.base_url.clone())
        })
        .or_else(|| default_base_url(provider).map(str::to_string))
}

fn target(config: &Config, offer: &ProviderOffer, url: String, api_key: String) -> Target {
    Target {
        provider: offer.provider.clone(),
        model: offer.model.clone(),
        base_url: url,
        api_key,
        timeout: Duration::from_secs(config.proxy.upstream_timeout_secs),
    }
}

fn credits_route(config: &Config, model: &Arc<ModelEntry>, offer: &ProviderOffer) -> Option<Route> {
    let key = config.provider_key(&offer.provider)?;
    let url = base_url(config, &offer.provider, None)?;
    Some(Route {
        model: model.clone(),
        offer: offer.clone(),
        target: target(config, offer, url, key.to_string()),
        paid_with: PaidWith::Credits,
        own_key_id: None,
    })
}

fn own_route(
    config: &Config,
    state: &ProxyState,
    project: &ProjectEntry,
    model: &Arc<ModelEntry>,
    offer: &ProviderOffer,
) -> Option<Route> {
    use secrecy::ExposeSecret;
    let own = project
        .own_keys_for(&offer.provider, &state.failed_keys)
        .into_iter()
        .next()?;
    let url = base_url(config, &offer.provider, own.base_url.as_deref())?;
    Some(Route {
        model: model.clone(),
        offer: offer.clone(),
        target: target(config, offer, url, own.secret.expose_secret().to_string()),
        paid_with: PaidWith::OwnKey,
        own_key_id: Some(own.id.clone()),
    })
}

/// Picks the cheapest offer that the key may use and the project can pay for.
pub fn plan(
    config: &Config,
    state: &ProxyState,
    key: &KeyEntry,
    project: &ProjectEntry,
    model: &Arc<ModelEntry>,
    offers: &[ProviderOffer],
) -> Result<Plan, ProxyError> {
    let mut denial = None;
    let mut unpaid = Vec::new();
    for offer in offers {
        if let Err(reason) = iam::check(&key.rules, model, offer) {
            denial.get_or_insert(reason);
            continue;
        }
        let plan = match project.mode {
            ProjectMode::ApiKeys => {
                own_route(config, state, project, model, offer).map(|primary| Plan {
                    primary,
                    fallback: None,
                })
            }
            ProjectMode::Credits => credits_route(config, model, offer).map(|primary| Plan {
                primary,
                fallback: None,
            }),
            ProjectMode::Hybrid => match own_route(config, state, project, model, offer) {
                Some(primary) => Some(Plan {
                    primary,
                    fallback: credits_route(config, model, offer),
                }),
                None => credits_route(config, model, offer).map(|primary| Plan {
                    primary,
                    fallback: None,
                }),
            },
        };
        match plan {
            Some(p) => return Ok(p),
            None => unpaid.push(offer.provider.clone()),
        }
    }
    if unpaid.is_empty() {
        return Err(ProxyError::IamDenied(
            denial.unwrap_or_else(|| "denied by IAM rules".into()),
        ));
    }
    let providers = unpaid.join(", ");
    Err(match project.mode {
        ProjectMode::ApiKeys => ProxyError::InvalidRequest {
            message: format!("the project has no active provider key for {providers} (mode api-keys)"),
            param: Some("model".into()),
            code: "provider_key_missing",
        },
        _ => ProxyError::InvalidRequest {
            message: format!("no credentials for {providers}: add a provider key to the project, or the gateway has none"),
            param: Some("model".into()),
            code: "provider_key_missing",
        },
    })
}
