#![forbid(unsafe_code)]

// mimalloc: less fragmentation and lower RSS than glibc's malloc under many threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use tollgate::cli::{run, Cli};
use tollgate::config::Config;

fn main() {
    let cli = Cli::parse();
    // Every connection holds a descriptor: take all the system allows (the soft limit is
    // often 1,024 while the hard one is far higher). Before the config, whose default
    // connection cap follows this limit.
    let files = rlimit::increase_nofile_limit(u64::MAX);
    // Before the runtime: the config sizes it (`server.worker_threads`).
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: configuration error: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server.worker_threads)
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => rt.block_on(start(cli, config, files)),
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn start(cli: Cli, config: Config, files: std::io::Result<u64>) {
    let log = tollgate::telemetry::init(config.log_format);
    match files {
        Ok(n) => tracing::debug!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let result = run(cli, config).await;
    // Flushes the log lines still queued (exit would not run the guard's drop).
    drop(log);
    if let Err(e) = result {
        eprintln!("tollgate: {e:#}");
        std::process::exit(1);
    }
}
