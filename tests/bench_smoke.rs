//! CI's short run of the benchmark: every phase runs for a moment on SQLite. It asserts
//! nothing about speed, only that the run completes and the drain lost no usage record.

#[test]
fn benchmark_smoke_run() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate-bench"))
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
