//! The command line every service binary takes, and the first steps of its `main`.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use courier_config::Config;

use crate::{Stop, init_tracing_for};

/// `<service> [--config PATH]`.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The first steps of a service's `main`: reads the command line (`name` and `about` are
/// what `--help` shows), loads the configuration, starts logging and listens for SIGINT and
/// SIGTERM. A bad command line or configuration exits with code 2 and one line on standard
/// error. With `[telemetry] otlp_endpoint`, spans are exported as `name` (see
/// [`init_tracing_for`]). Call it inside the tokio runtime.
pub fn boot(name: &'static str, about: &'static str) -> (Config, Stop) {
    let matches = Args::command().name(name).about(about).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config = courier_config::exit_on_error(courier_config::load(args.config.as_deref()));
    init_tracing_for(name, &config.telemetry);
    (config, Stop::listen())
}
