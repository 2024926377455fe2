//! The pool against small HTTP/1 servers on loopback that count their connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::super::http::Http;

/// How a test server treats a connection after its first answer.
#[derive(Clone, Copy)]
enum After {
    /// Keeps it open for more requests.
    KeepAlive,
    /// Closes it (as a server whose idle timeout passed).
    Close,
}

struct Server {
    url: String,
    connections: Arc<AtomicUsize>,
}

/// Answers `POST /small` with "ok" and `POST /big` with 1 MiB, per connection until `after`.
async fn server(after: After) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(socket, after));
        }
    });
    Server { url, connections }
}

async fn serve(mut socket: TcpStream, after: After) {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        // The tests send no body: a request ends at its blank line.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            let body = if head.starts_with("POST /big") {
                vec![b'x'; 1 << 20]
            } else {
                b"ok".to_vec()
            };
            let mut answer =
                format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
            answer.extend_from_slice(&body);
            if socket.write_all(&answer).await.is_err() {
                return;
            }
            if let After::Close = after {
                return;
            }
        }
    }
}

async fn small(http: &Http, s: &Server) -> String {
    let r = http
        .post(format!("{}/small", s.url).parse().unwrap())
        .send()
        .await
        .expect("an answer");
    String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn a_connection_is_reused_once_its_answer_is_read() {
    let s = server(After::KeepAlive).await;
    let http = Http::new(Duration::from_secs(30)).unwrap();
    for _ in 0..5 {
        assert_eq!(small(&http, &s).await, "ok");
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced() {
    let s = server(After::Close).await;
    let http = Http::new(Duration::from_secs(30)).unwrap();
    assert_eq!(small(&http, &s).await, "ok");
    // Time for the pooled connection to see the close; the next request goes on a new one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(small(&http, &s).await, "ok");
    assert_eq!(s.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idle_connection_past_its_time_is_not_reused() {
    let s = server(After::KeepAlive).await;
    let http = Http::new(Duration::from_millis(20)).unwrap();
    assert_eq!(small(&http, &s).await, "ok");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(small(&http, &s).await, "ok");
    assert_eq!(s.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_in_progress_holds_its_connection_and_one_dropped_unread_is_not_reused() {
    let s = server(After::KeepAlive).await;
    let http = Http::new(Duration::from_secs(30)).unwrap();
    let big = http
        .post(format!("{}/big", s.url).parse().unwrap())
        .send()
        .await
        .unwrap();
    let mut stream = Box::pin(big.bytes_stream());
    let first = stream.next().await.expect("a first part").unwrap();
    assert!(!first.is_empty());
    // The big answer's connection is busy: this request opens another.
    assert_eq!(small(&http, &s).await, "ok");
    assert_eq!(s.connections.load(Ordering::SeqCst), 2);
    // Dropped before its end: that connection cannot carry another answer.
    drop(stream);
    for _ in 0..3 {
        assert_eq!(small(&http, &s).await, "ok");
    }
    assert_eq!(s.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_refused_is_an_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let http = Http::new(Duration::from_secs(30)).unwrap();
    let err = http
        .post(format!("http://127.0.0.1:{port}/x").parse().unwrap())
        .send()
        .await
        .err()
        .expect("no server");
    assert!(!err.to_string().is_empty());
}
