//! A second gateway on a port where one already listens refuses to start (the sockets the
//! serving threads share would otherwise let it take a share of the traffic silently); the
//! first keeps serving and logs one line per proxy request.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{fresh_database, Backend, ADMIN, SECRET_KEY};

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gateway(url: &str, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    c.arg("serve")
        .env("TOLLGATE_DATABASE_URL", url)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .env("TOLLGATE_SECRET_KEY", SECRET_KEY)
        .env("TOLLGATE_SERVER_THREADS", "2")
        .env("TOLLGATE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_gateway_on_a_busy_port_exits_with_an_error() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let dir = dir.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = dir.path().join("first.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let first = gateway(&url, port)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let _first = Server(first);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the first gateway did not start");

    let (other_url, _other_dir) = fresh_database(Backend::Sqlite).await;
    let mut second = gateway(&other_url, port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = second.stderr.take().unwrap();
    let mut second = Server(second);
    let stderr = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr_pipe, &mut text).map(|_| text)
    });
    // Bounded: a second gateway that starts would run (and hold its stderr) forever.
    let mut exited = None;
    for _ in 0..300 {
        exited = second.0.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
    let stderr = stderr.await.unwrap().unwrap();
    let status = exited.unwrap_or_else(|| panic!("the second gateway started: {stderr}"));
    assert!(!status.success(), "the second gateway exited 0: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&port.to_string()), "{stderr}");

    // The first one still answers every request, and logs each proxy request.
    for _ in 0..8 {
        let r = reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth("tg-wrong")
            .header("x-request-id", "access-log-probe")
            .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let mut lines = 0;
    for _ in 0..50 {
        let log = std::fs::read_to_string(&log_path).unwrap();
        lines = log
            .lines()
            .filter(|l| l.contains("proxy request") && l.contains("access-log-probe"))
            .filter(|l| l.contains(r#""status":401"#) && l.contains(r#""key_id":"-""#))
            .count();
        if lines >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines, 8, "one access line per request");
}
