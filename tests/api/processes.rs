//! Gateways as `tollgate serve` processes (and the mock provider as `tollgate mock-provider`),
//! for tests of several replicas or of a process that is killed.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{ADMIN, SECRET_KEY};

pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn gateway(url: &str, port: u16, mock: u16, spool: &std::path::Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("TOLLGATE_DATABASE_URL", url)
        .env("TOLLGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .env("TOLLGATE_SECRET_KEY", SECRET_KEY)
        .env("TOLLGATE_SERVER_THREADS", "2")
        .env("TOLLGATE_SPOOL_DIR", spool)
        .env("TOLLGATE_PROVIDER_OPENAI_API_KEY", "upstream-key")
        .env(
            "TOLLGATE_PROVIDER_OPENAI_BASE_URL",
            format!("http://127.0.0.1:{mock}/v1"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Server(child)
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway at {base} not ready");
}

pub async fn call(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let r = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// The mock provider on `port`.
pub fn mock_provider(port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["mock-provider", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
}
