//! Upstream connections: HTTP/1 connections kept open per thread and per host, reused last in
//! first out. It replaces hyper-util's pooled client, whose checkout (a race between the pool
//! and a new connection, a lock shared by threads) and return cost about 8,000 instructions
//! per request. A connection is driven by a task on the thread that opened it; it goes back
//! to the pool when the answer's body has been read or dropped (a body dropped unread closes
//! the connection, and the next checkout finds it closed).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Parts};
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::Service;

use super::guard::{check_literal, GuardResolver};
use super::http_error::HttpError;
use crate::upstream_policy::UpstreamPolicy;

pub(super) type Connector = HttpsConnector<HttpConnector<GuardResolver>>;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections kept per host and thread beyond this are closed.
const MAX_IDLE_PER_HOST: usize = 1024;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Host {
    https: bool,
    authority: Authority,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// One thread's idle connections, by host.
#[derive(Default)]
struct Local {
    idle: RefCell<HashMap<Host, Vec<Idle>, foldhash::fast::RandomState>>,
}

impl Local {
    /// The most recently used connection to `host` that may still be open.
    fn take(&self, host: &Host, max_idle: Duration) -> Option<Sender> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(host)?;
        while let Some(c) = list.pop() {
            if !c.sender.is_closed() && c.since.elapsed() < max_idle {
                return Some(c.sender);
            }
        }
        None
    }

    fn put(&self, host: Host, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(host).or_default();
        if list.len() >= MAX_IDLE_PER_HOST {
            // The oldest is the likeliest to have been closed by the other side.
            list.remove(0);
        }
        list.push(Idle {
            sender,
            since: Instant::now(),
        });
    }
}

/// The pools of every thread that calls providers.
#[derive(Clone)]
pub(super) struct Pool {
    connector: Connector,
    /// Connections to hosts the operator did not configure resolve through the policy.
    guard: Option<Arc<Guard>>,
    max_idle: Duration,
    locals: Arc<thread_local::ThreadLocal<Local>>,
}

/// The upstream policy and the hosts exempt from it (the operator's configured providers).
pub(super) struct Guard {
    pub policy: Arc<UpstreamPolicy>,
    pub trusted: std::collections::HashSet<Host>,
    pub connector: Connector,
}

impl Pool {
    pub fn new(connector: Connector, guard: Option<Guard>, max_idle: Duration) -> Self {
        Self {
            connector,
            guard: guard.map(Arc::new),
            max_idle,
            locals: Default::default(),
        }
    }

    fn local(&self) -> &Local {
        self.locals.get_or(Local::default)
    }

    /// Sends `request` (absolute URI, `Host` set) on a pooled connection or a new one. A
    /// request that a pooled connection refused before writing it (closed meanwhile) is sent
    /// again; one that was written is not, as it may have had an effect.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), HttpError> {
        let (mut parts, body) = request.into_parts();
        let https = match parts.uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpError::new("the provider URL must be http or https")),
        };
        let Some(authority) = parts.uri.authority().cloned() else {
            return Err(HttpError::new("the provider URL has no host"));
        };
        let host = Host { https, authority };
        let origin = origin_form(&parts.uri);
        let full = std::mem::replace(&mut parts.uri, origin);
        let mut request = Request::from_parts(parts, body);
        while let Some(mut sender) = self.local().take(&host, self.max_idle) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, self.lease(host, sender))),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(HttpError::from_chain(e.error())),
                },
            }
        }
        // Boxed: opening a connection is the rare path, and its state (the connector's
        // future, TLS) would otherwise make every request's future kilobytes larger, and
        // every move of it a copy of those kilobytes.
        let mut sender = Box::pin(self.connect(full, &host)).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| HttpError::from_chain(&e))?;
        Ok((response, self.lease(host, sender)))
    }

    async fn connect(&self, uri: Uri, host: &Host) -> Result<Sender, HttpError> {
        // Pooled connections are keyed by host, so a connection opened for a trusted host
        // is never lent to a check that would have refused it: the host is the same.
        let mut connector = match &self.guard {
            Some(g) if !g.trusted.contains(host) => {
                check_literal(&g.policy, host.authority.host())
                    .map_err(|e| HttpError::from_chain(&e))?;
                g.connector.clone()
            }
            _ => self.connector.clone(),
        };
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| HttpError::from_chain(e.as_ref()))?;
        let io = connector
            .call(uri)
            .await
            .map_err(|e| HttpError::from_chain(e.as_ref()))?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|e| HttpError::from_chain(&e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    fn lease(&self, host: Host, sender: Sender) -> Lease {
        Lease(Some((self.clone(), host, sender)))
    }
}

/// Puts the connection back in the pool when dropped.
pub(super) struct Lease(Option<(Pool, Host, Sender)>);

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((pool, host, sender)) = self.0.take() {
            pool.local().put(host, sender);
        }
    }
}

impl Host {
    /// The host an absolute http(s) URL names.
    pub fn of(uri: &Uri) -> Option<Self> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        Some(Self {
            https,
            authority: uri.authority()?.clone(),
        })
    }
}

/// `/path?query` of an absolute URI: what the request line carries.
fn origin_form(uri: &Uri) -> Uri {
    let mut parts = Parts::default();
    parts.path_and_query = Some(
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    Uri::from_parts(parts).unwrap_or_default()
}

#[cfg(test)]
mod tests;
