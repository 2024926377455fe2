//! The processes under test: the mock provider and the gateway, each this same binary started
//! again in a role, so each has its own runtime and its own memory figures.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts this binary as `role` with `env`, and waits until `ready_path` answers.
pub async fn start(role: &str, port: u16, env: &[(&str, String)], ready_path: &str) -> Proc {
    let exe = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(exe);
    cmd.arg(role)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Wrapped at once: `Proc` kills and reaps the child however this function ends.
    let proc = Proc {
        child: cmd.spawn().expect("start a child process"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let base = proc.base.clone();
    let client = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = client.get(format!("{base}{ready_path}")).send().await {
            if r.status().is_success() {
                return proc;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{role} did not become ready");
}

/// Current and peak resident memory of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Asks a process to stop (SIGTERM) and waits for it: the gateway drains its usage queue.
pub fn terminate(proc: &mut Proc) -> bool {
    let pid = proc.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .is_ok_and(|s| s.success());
    sent && proc.child.wait().is_ok_and(|s| s.success())
}
