//! Name resolution for upstream connections, checked against the upstream policy when the
//! host is a tenant's (`crate::upstream_policy`). A refusal happens before any connection
//! is opened, so nothing is sent to a blocked address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use hyper_util::client::legacy::connect::dns::Name;
use tower::Service;

use crate::upstream_policy::UpstreamPolicy;

/// Resolves with the system's resolver (off the event loop, as hyper's own resolver does);
/// with a policy, fails unless every address found is allowed.
#[derive(Clone, Default)]
pub struct GuardResolver {
    policy: Option<Arc<UpstreamPolicy>>,
}

impl GuardResolver {
    pub fn checking(policy: Arc<UpstreamPolicy>) -> Self {
        Self {
            policy: Some(policy),
        }
    }
}

impl Service<Name> for GuardResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            // The connector sets the port on each address.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(policy) = policy {
                if let Some(why) = found.iter().find_map(|a| policy.refusal(a.ip())) {
                    return Err(blocked(name.as_str(), &why));
                }
            }
            Ok(found.into_iter())
        })
    }
}

/// The check of a host written as an address, which the connector uses without resolving.
pub fn check_literal(policy: &UpstreamPolicy, host: &str) -> Result<(), std::io::Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => match policy.refusal(ip) {
            Some(why) => Err(blocked(host, &why)),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

/// A refusal of the policy, carried up from the connector inside hyper's errors.
#[derive(Debug, thiserror::Error)]
#[error("upstream address blocked for `{host}`: {why}")]
pub struct Blocked {
    host: String,
    why: String,
}

fn blocked(host: &str, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        Blocked {
            host: host.to_string(),
            why: why.to_string(),
        },
    )
}

/// Whether `e` is a refusal of the policy.
pub fn is_blocked(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<Blocked>()
        || e.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<Blocked>())
}
