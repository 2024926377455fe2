//! Serving on one event loop per thread. Each thread runs its own single-threaded runtime
//! with its own listening socket on the same port (`SO_REUSEPORT`: the kernel spreads the
//! connections) and its own upstream connections. A request is then read, forwarded,
//! answered and metered on one thread: no work stealing, no wakeup of another thread on
//! each hop, which on a shared multi-threaded runtime cost more than the gateway's own work.
//! Background work (usage writer, projector) stays on the main runtime.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, watch};

use super::background;
use crate::app::AppState;

/// Binds the server's first listening socket, which the other loops' sockets then share
/// (`SO_REUSEPORT`). Sharing would also let a second gateway on the same port take a share
/// of the traffic silently, so the port is first bound alone: if anything listens there
/// already, that fails and the server refuses to start.
pub fn bind_shared(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if addr.port() != 0 {
        probe(addr)?;
    }
    bind_reusable(addr)
}

/// Binds `addr` without `SO_REUSEPORT` and lets it go: only a free port allows that.
fn probe(addr: SocketAddr) -> std::io::Result<()> {
    let socket = new_socket(addr)?;
    // Connections of a previous run in TIME_WAIT do not make the port busy.
    socket.set_reuseaddr(true)?;
    match socket.bind(addr) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(std::io::Error::new(
            e.kind(),
            format!(
                "{addr} is already in use: another process (perhaps another gateway) listens there"
            ),
        )),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}"),
        )),
    }
}

fn new_socket(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
}

/// A listening socket on `addr` that further sockets may share (`SO_REUSEPORT`).
fn bind_reusable(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = new_socket(addr)?;
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves on `threads` event loops until `shutdown` resolves (or one loop fails), then lets
/// every loop finish its in-flight requests and their usage records, and drains the writer.
/// `listener` must come from [`bind_shared`] (its address is shared with the other loops).
pub async fn serve_threads(
    app: AppState,
    listener: TcpListener,
    threads: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let background = background(&app);
    let (stop, stopped) = watch::channel(false);
    let (release, released) = watch::channel(false);
    let (report, mut reports) = mpsc::unbounded_channel();
    let mut first = Some(listener.into_std()?);
    let mut joins = Vec::with_capacity(threads.max(1));
    // One cap for the whole server, whichever loop a connection lands on.
    let connections = super::Connections::new(app.config.server.max_connections);
    let mut result = Ok(());
    for i in 0..threads.max(1) {
        let listener = match first.take() {
            Some(l) => Ok(l),
            None => bind_reusable(addr).and_then(|l| l.into_std()),
        };
        let ends = Ends {
            connections: connections.clone(),
            stopped: stopped.clone(),
            released: released.clone(),
            report: Report(Some(report.clone())),
        };
        match listener.and_then(|l| spawn_loop(i, app.clone(), l, ends)) {
            Ok(join) => joins.push(join),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    drop(report);
    let mut running = joins.len();
    if result.is_ok() {
        // A loop that ends on its own has failed: stop the others rather than serve on less.
        tokio::select! {
            _ = shutdown => {}
            Some(ended) = reports.recv() => {
                running -= 1;
                result = Err(ended.err().unwrap_or_else(|| {
                    std::io::Error::other("a serving thread stopped")
                }));
            }
        }
    }
    let _ = stop.send(true);
    while running > 0 {
        let Some(ended) = reports.recv().await else {
            break;
        };
        running -= 1;
        if let (Err(e), true) = (ended, result.is_ok()) {
            result = Err(e);
        }
    }
    app.drain_usage().await;
    // Only now may the loops' runtimes go: database connections opened on a loop (by a
    // management request) are driven by its reactor, and the drain may have used them.
    let _ = release.send(true);
    for join in joins {
        let _ = tokio::task::spawn_blocking(move || join.join()).await;
    }
    for task in background {
        task.abort();
    }
    result
}

/// What a loop is told (stop serving; its runtime may go) and how it reports its end.
struct Ends {
    connections: Arc<super::Connections>,
    stopped: watch::Receiver<bool>,
    released: watch::Receiver<bool>,
    report: Report,
}

/// A loop's end, reported once; a loop that panics reports that as it unwinds.
struct Report(Option<mpsc::UnboundedSender<std::io::Result<()>>>);

impl Report {
    fn send(mut self, result: std::io::Result<()>) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(result);
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(Err(std::io::Error::other("a serving thread panicked")));
        }
    }
}

/// Starts one thread with its own runtime serving `listener`.
fn spawn_loop(
    index: usize,
    app: AppState,
    listener: std::net::TcpListener,
    ends: Ends,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("tollgate-http-{index}"))
        .spawn(move || {
            let Ends {
                connections,
                stopped,
                mut released,
                report,
            } = ends;
            runtime.block_on(async move {
                // Returns once the tasks the requests left (they run on this runtime) are
                // done too, so none is lost when the runtime goes.
                report.send(serve_loop(&app, listener, connections, stopped).await);
                let _ = released.wait_for(|r| *r).await;
            });
        })
}

async fn serve_loop(
    app: &AppState,
    listener: std::net::TcpListener,
    connections: Arc<super::Connections>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Tokio wakes its driver (an eventfd write) whenever a timer is registered that is due
    // before every timer already waiting, which on an idle wheel is each request's upstream
    // timeout. A short timer always pending spares every request that syscall.
    tokio::spawn(async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        }
    });
    let listener = TcpListener::from_std(listener)?;
    super::serve_connections(app, listener, connections, async move {
        let _ = stopped.wait_for(|s| *s).await;
    })
    .await
}
