//! The header timeout: a request head must arrive within it on a new connection, and once a
//! keep-alive connection's next request has begun. hyper's own header timeout runs from the
//! end of the previous response, so it serves as the idle timeout (a keep-alive connection's
//! next request must have come by then) but cannot give an idle connection more time than a
//! slow head; this one starts when the head does.
//!
//! The connection's phase is shared by its reads (which enforce the deadline), the service
//! (a request has begun) and the response body (it has been sent: the connection is idle).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

// A phase word: the request's number, shifted, and what the connection is waiting for.
const HEAD: u64 = 0;
const BUSY: u64 = 1;
const IDLE: u64 = 2;
const PHASE: u64 = 3;

/// The phase of one connection.
#[derive(Default)]
pub struct Phase(AtomicU64);

impl Phase {
    /// A request's head has been read: no read deadline until its response has been sent.
    /// Returns the request's number.
    pub fn begin(&self) -> u64 {
        let number = (self.0.load(Ordering::Relaxed) >> 2) + 1;
        self.0.store(number << 2 | BUSY, Ordering::Relaxed);
        number
    }

    /// Request `number`'s response has been sent (or dropped): the connection is idle,
    /// unless a later request has begun meanwhile.
    fn end(&self, number: u64) {
        let _ = self.0.compare_exchange(
            number << 2 | BUSY,
            number << 2 | IDLE,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Bytes arrived: an idle connection's next head has begun.
    fn received(&self) {
        let word = self.0.load(Ordering::Relaxed);
        if word & PHASE == IDLE {
            let _ = self.0.compare_exchange(
                word,
                word & !PHASE | HEAD,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// A client connection whose reads fail once a request head has taken too long (hyper then
/// closes the connection).
pub struct Deadlined {
    tcp: TcpStream,
    phase: Arc<Phase>,
    header: Duration,
    /// Made on the first wait and reset after: one per connection.
    timer: Option<Pin<Box<Sleep>>>,
    /// The phase word the timer was set for.
    armed: Option<u64>,
}

impl Deadlined {
    pub fn new(tcp: TcpStream, phase: Arc<Phase>, header: Duration) -> Self {
        Self {
            tcp,
            phase,
            header,
            timer: None,
            armed: None,
        }
    }

    /// Nothing to read yet: while a head is awaited, pending until its deadline, then an
    /// error. A head that arrives in one piece (most do) sets no timer.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let word = self.phase.0.load(Ordering::Relaxed);
        if word & PHASE != HEAD {
            return Poll::Pending;
        }
        let limit = self.header;
        let timer = match (&mut self.timer, self.armed == Some(word)) {
            (Some(timer), true) => timer,
            (Some(timer), false) => {
                timer.as_mut().reset(Instant::now() + limit);
                timer
            }
            (timer @ None, _) => timer.insert(Box::pin(tokio::time::sleep(limit))),
        };
        self.armed = Some(word);
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request head not received in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.phase.received();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.wait(cx),
        }
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A response body that marks its connection idle once hyper has sent it (and drops it).
pub struct Sent {
    body: Body,
    phase: Arc<Phase>,
    number: u64,
}

impl Sent {
    pub fn new(body: Body, phase: Arc<Phase>, number: u64) -> Self {
        Self {
            body,
            phase,
            number,
        }
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        self.phase.end(self.number);
    }
}

impl hyper::body::Body for Sent {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(p: &Phase) -> u64 {
        p.0.load(Ordering::Relaxed) & PHASE
    }

    #[test]
    fn a_head_is_awaited_when_new_and_once_an_idle_connection_receives_bytes() {
        let p = Phase::default();
        assert_eq!(phase(&p), HEAD);
        let first = p.begin();
        assert_eq!(phase(&p), BUSY);
        // A request body's bytes do not start a head.
        p.received();
        assert_eq!(phase(&p), BUSY);
        p.end(first);
        assert_eq!(phase(&p), IDLE);
        p.received();
        assert_eq!(phase(&p), HEAD);
        let second = p.begin();
        // A late end of an earlier response leaves the current request busy.
        p.end(first);
        assert_eq!(phase(&p), BUSY);
        p.end(second);
        assert_eq!(phase(&p), IDLE);
    }
}
