//! CI's short run of the benchmark: every phase runs for a moment on SQLite. It asserts
//! nothing about speed, only that the run completes and the drain lost no usage record.

use std::path::PathBuf;
use std::process::Command;

/// The benchmark's binary (its own crate, `bench/`), built with cargo into this test's target
/// directory and profile: `target/<profile>/deps/bench_smoke-…` runs `target/<profile>/tollgate-bench`.
fn bench_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let profile = dir.file_name().and_then(|n| n.to_str()).expect("profile");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-p", "tollgate-bench", "--bin", "tollgate-bench"])
        .env("CARGO_TARGET_DIR", dir.parent().expect("target"));
    if profile != "debug" {
        build.args(["--profile", profile]);
    }
    let status = build.status().expect("run cargo build -p tollgate-bench");
    assert!(status.success(), "cargo build -p tollgate-bench: {status}");
    dir.join(format!("tollgate-bench{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn benchmark_smoke_run() {
    let out = Command::new(bench_binary())
        .args(["--smoke", "--stores", "sqlite"])
        .output()
        .expect("run tollgate-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| 32 |"), "{stdout}");
    assert!(stdout.contains("(open loop;"), "{stdout}");
    assert!(stdout.contains("(closed loop: mean latency"), "{stdout}");
    assert!(stdout.contains("graceful drain: clean exit"), "{stdout}");
    assert!(
        stdout.contains("(equal)"),
        "usage records must equal requests sent:\n{stdout}"
    );
    assert!(stdout.contains("projection rebuild"), "{stdout}");
}
