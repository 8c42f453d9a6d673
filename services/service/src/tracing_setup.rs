//! Logging of a service binary.

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    init_tracing_at("info");
}

/// Logs to standard error, filtered by `RUST_LOG`, else by `default` (`warn`, `info`, ...).
pub fn init_tracing_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
