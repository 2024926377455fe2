//! nginx as a plain reverse proxy in front of the mock, when nginx is installed: the floor any
//! proxy pays for the extra hop, measured in the same run as tollgate (the reference
//! figure came from another machine and another load generator).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::free_port;

pub struct Nginx {
    child: Child,
    pub base: String,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers first. Killed outright, it left them running.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// Starts nginx (as many workers as cores, upstream keep-alive, no access log, no buffering)
/// proxying to `upstream`; `None` when nginx is not installed or does not come up.
pub async fn start(upstream: &str) -> Option<Nginx> {
    let exe = binary()?;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("tollgate-bench-nginx-{port}"));
    std::fs::create_dir_all(&dir).ok()?;
    let d = dir.display();
    // Workers would otherwise switch to `nobody`, who cannot use this directory.
    let user = if running_as_root() { "user root;" } else { "" };
    let upstream = upstream.trim_start_matches("http://");
    let conf = format!(
        "{user}\nworker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           upstream mock {{ server {upstream}; keepalive 512; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://mock;\n\
               proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_buffering off;\n    }}\n  }}\n}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).ok()?;
    let child = Command::new(exe)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let nginx = Nginx {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(nginx);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("nginx did not come up; leaving it out");
    None
}
