//! Accepting and driving connections: hyper's HTTP/1 server with a header timeout and an
//! idle keep-alive timeout (see `head_timeout`), a request-body timeout, a process-wide cap
//! on open connections with a clean refusal, and graceful shutdown. `axum::serve` offers
//! none of these, so the server drives hyper itself; a slow or silent client then holds a
//! file descriptor for seconds, not forever.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

use super::body_timeout::TimedBody;
use super::dispatch::Dispatch;
use super::head_timeout::{Deadlined, Phase, Sent};

/// The connections a server (all its serving threads together) may hold open at once.
pub struct Connections {
    open: AtomicUsize,
    max: usize,
    /// Connections being answered 503: each holds a descriptor for up to two seconds, so
    /// past this many a flood is closed at once instead.
    refusing: AtomicUsize,
}

const MAX_REFUSING: usize = 1024;

impl Connections {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max: max.max(1),
            refusing: AtomicUsize::new(0),
        })
    }

    /// A place for one more connection, unless all are taken.
    fn try_open(self: &Arc<Self>) -> Option<Slot> {
        Self::take(self, |c| &c.open, self.max)
    }

    /// A place to answer a refused connection, unless too many are being answered.
    fn try_refuse(self: &Arc<Self>) -> Option<Slot> {
        Self::take(self, |c| &c.refusing, MAX_REFUSING)
    }

    fn take(this: &Arc<Self>, count: fn(&Self) -> &AtomicUsize, max: usize) -> Option<Slot> {
        let before = count(this).fetch_add(1, Ordering::Relaxed);
        let slot = Slot(this.clone(), count);
        (before < max).then_some(slot)
    }
}

/// One place taken; given back when the connection closes.
struct Slot(Arc<Connections>, fn(&Connections) -> &AtomicUsize);

impl Drop for Slot {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// The timeouts a connection is served under.
#[derive(Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    pub body: Duration,
}

/// Accepts on `listener` until `shutdown`, then lets every open connection finish the
/// request it is serving (idle ones are closed at once).
pub async fn accept_loop(
    listener: TcpListener,
    service: Dispatch,
    connections: Arc<Connections>,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper's header timer runs from a connection's opening and from each response's end
    // to the next head's end: the idle timeout. The header timeout proper is the
    // connection's own (`head_timeout::Deadlined`).
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.idle);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    on_accept_error(e).await;
                    continue;
                }
            },
        };
        // Small writes (stream chunks) go out at once instead of waiting on Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        let Some(slot) = connections.try_open() else {
            crate::metrics::connection_refused();
            if let Some(slot) = connections.try_refuse() {
                tokio::spawn(async move {
                    refuse(tcp).await;
                    drop(slot);
                });
            }
            continue;
        };
        let service = service.clone();
        let phase = Arc::new(Phase::default());
        let io = Deadlined::new(tcp, phase.clone(), timeouts.header);
        let body_timeout = timeouts.body;
        let serve = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let number = phase.begin();
            let phase = phase.clone();
            let mut service = service.clone();
            service
                .call(request.map(|body| Body::new(TimedBody::new(body, body_timeout))))
                .map(move |r| r.map(|r| r.map(|body| Sent::new(body, phase, number))))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), serve));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // No new connections from here on; the kernel refuses them once the socket is closed.
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors are about one connection (it went away) or about resources (out of file
/// descriptors): for the latter, wait a little rather than spin, and keep serving.
async fn on_accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The answer to a connection over the cap: 503 in OpenAI's error shape, `Retry-After`, then
/// the connection closed. The request's head is read first (an HTTP client takes an answer
/// that comes before its request for a broken connection) and what follows it for a moment
/// after (so that closing does not reset the connection before the client reads the
/// answer); two seconds in all, then the descriptor is given back whatever the client does.
async fn refuse(mut tcp: TcpStream) {
    const BODY: &str = concat!(
        r#"{"error":{"message":"the gateway has too many open connections; retry shortly","#,
        r#""type":"server_error","param":null,"code":"too_many_connections"}}"#
    );
    const HEAD_MAX: usize = 16 * 1024;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 4096];
        while memchr::memmem::find(&head, b"\r\n\r\n").is_none() && head.len() < HEAD_MAX {
            match tcp.read(&mut buf).await? {
                0 => return Ok(()),
                n => head.extend_from_slice(&buf[..n]),
            }
        }
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut left = 64 * 1024;
        while left > 0 {
            match tcp.read(&mut buf).await? {
                0 => break,
                n => left -= n.min(left),
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}
