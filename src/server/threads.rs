//! Serving on one event loop per thread. Each thread runs its own single-threaded runtime
//! with its own listening socket on the same port (`SO_REUSEPORT`: the kernel spreads the
//! connections) and its own upstream connections. A request is then read, forwarded,
//! answered and metered on one thread: no work stealing, no wakeup of another thread on
//! each hop, which on a shared multi-threaded runtime cost more than the gateway's own work.
//! Background work (usage writer, projector) stays on the main runtime.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};

use crate::app::AppState;

/// Binds a listening socket that further sockets may share (`SO_REUSEPORT`).
pub fn bind_shared(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
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
    let background = app.spawn_background();
    let (stop, stopped) = watch::channel(false);
    let mut first = Some(listener.into_std()?);
    let mut loops = Vec::with_capacity(threads.max(1));
    let mut started = Ok(());
    for i in 0..threads.max(1) {
        let listener = match first.take() {
            Some(l) => Ok(l),
            None => bind_shared(addr).and_then(|l| l.into_std()),
        };
        let spawned = listener.and_then(|l| spawn_loop(i, app.clone(), l, stopped.clone()));
        match spawned {
            Ok(done) => loops.push(done),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    let mut result = started;
    if result.is_ok() {
        // A loop that ends on its own has failed: stop the others rather than serve on less.
        let failed = futures::future::select_all(loops.iter_mut());
        tokio::select! {
            _ = shutdown => {}
            (ended, _, _) = failed => result = flatten(ended),
        }
    }
    let _ = stop.send(true);
    for done in loops {
        // Loops already reported are closed channels: an error here repeats nothing new.
        if let Ok(Err(e)) = done.await {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    app.drain_usage().await;
    for task in background {
        task.abort();
    }
    result
}

fn flatten(ended: Result<std::io::Result<()>, oneshot::error::RecvError>) -> std::io::Result<()> {
    match ended {
        Ok(Ok(())) => Err(std::io::Error::other("a serving thread stopped")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("a serving thread panicked")),
    }
}

/// Starts one thread with its own runtime serving `listener`; the channel reports its end.
fn spawn_loop(
    index: usize,
    app: AppState,
    listener: std::net::TcpListener,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<oneshot::Receiver<std::io::Result<()>>> {
    let (done, ended) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("tollgate-http-{index}"))
        .spawn(move || {
            let result = runtime.block_on(async move {
                use axum::serve::ListenerExt;
                let listener = TcpListener::from_std(listener)?.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let served = axum::serve(listener, super::router(app.clone()))
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await;
                // Connections are closed; tasks they spawned (a stream's usage record) run
                // on this runtime and must finish before it is dropped.
                app.proxy.tasks.close();
                app.proxy.tasks.wait().await;
                served
            });
            let _ = done.send(result);
        })?;
    Ok(ended)
}
