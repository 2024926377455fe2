#![forbid(unsafe_code)]

// mimalloc: less fragmentation and lower RSS than glibc's malloc under many threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use tollgate::cli::{run, Cli};
use tollgate::config::Config;

#[tokio::main]
async fn main() {
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
