#![forbid(unsafe_code)]

// mimalloc: less fragmentation and lower RSS than glibc's malloc under many threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use tollgate::cli::{run, Cli};
use tollgate::config::Config;

fn main() {
    // TOLLGATE_WORKER_THREADS sizes the runtime (default: one per core).
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("TOLLGATE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        runtime.worker_threads(n);
    }
    match runtime.enable_all().build() {
        Ok(rt) => rt.block_on(start()),
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn start() {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: configuration error: {e}");
            std::process::exit(2);
        }
    };
    tollgate::telemetry::init(config.log_format);
    if let Err(e) = run(cli, config).await {
        eprintln!("tollgate: {e:#}");
        std::process::exit(1);
    }
}
