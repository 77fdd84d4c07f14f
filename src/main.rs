//! The `mcsync` binary: parse arguments, set up logging, run a subcommand.

use clap::Parser;

/// jemalloc returns what a long upload frees; glibc's arenas kept it (BENCHMARKS.md, the
/// million-order shop).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start: two arenas (mcsync's heavy work is one writer and
/// one job, and more arenas only kept more freed memory) and freed pages returned after 1 s
/// instead of 10. At a quarter of the million-order shop they took the upload's peak from 237
/// to 168 MiB at the same speed (BENCHMARKS.md). `_RJEM_MALLOC_CONF` still overrides them.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_CONF: &[u8; 30] = b"narenas:2,dirty_decay_ms:1000\0";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = mcsync::cli::Cli::parse();
    mcsync::telemetry::init(cli.log_format, &cli.log_level);
    match mcsync::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcsync: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
