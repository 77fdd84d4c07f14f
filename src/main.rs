//! The `mcsync` binary: parse arguments, set up logging, run a subcommand.

use clap::Parser;

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
