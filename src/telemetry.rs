//! Logging: tracing to stderr, human-readable or JSON lines, filtered by `RUST_LOG` or the level.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
/// How log lines are written.
pub enum LogFormat {
    /// For people: one readable line per event (no colour off a terminal).
    Human,
    /// For log collectors: one JSON object per line.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        // Colour only for a person at a terminal: escape codes in a log file or a journal are
        // noise.
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // One object per line; the fields of the spans it happened in (the RPC's method and
        // peer, the job's id, the phase's store and kind) come along.
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging already initialised: {e}");
    }
}
