//! `shop`: the courier e-commerce demo.
//!
//! ```text
//! shop demo   [--config PATH] [--orders N] [--json] [--seed S] [--timeout-secs T]
//!             [--store memory|sqlite|URL]
//! shop config [--config PATH]
//! shop asyncapi [--config PATH] [--format yaml|json]
//! ```
//!
//! `demo` runs the order, inventory and payment services in this process on the configured
//! broker, places N generated orders (default 1,000) and prints how they ended; it exits
//! with code 1 when any order is still unsettled at the timeout. `config` prints the
//! effective configuration (secrets shown as `***`), the backend's guarantees, and what the
//! services need of them. `asyncapi` prints the saga's AsyncAPI 3.0 document for the
//! configured topics and backend (docs/asyncapi.md). A bad configuration exits with code 2
//! and one line.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use courier_config::Config;
use courier_core::Capability;
use shop::{DEFAULT_SEED, DemoOptions, asyncapi};

/// The courier e-commerce demo.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the three services in this process and place generated orders through them.
    Demo {
        /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// How many orders to place.
        #[arg(long, default_value_t = 1_000)]
        orders: usize,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
        /// Seed of the generated orders.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Seconds to wait for every order to settle.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        /// Where the services keep their state: `memory` (an in-memory SQLite database per
        /// service), `sqlite` (a SQLite file per service in a temporary folder), or a store
        /// URL such as `postgres://postgres@127.0.0.1:5432/shop`.
        #[arg(long, default_value = "memory", value_name = "memory|sqlite|URL")]
        store: String,
        /// Put before every configured topic name, so that the demo never takes the events
        /// of services running on the same broker; "" uses the configured names.
        #[arg(long, default_value = "demo.", value_name = "PREFIX")]
        topic_prefix: String,
    },
    /// Print the effective configuration, the backend's guarantees and the services' needs
    /// (connecting to the broker to read its guarantees, unless `--offline`).
    Config {
        /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Print the configuration only; do not connect to the broker.
        #[arg(long)]
        offline: bool,
    },
    /// Print the saga's AsyncAPI 3.0 document: its channels, operations and messages on the
    /// configured topics and backend (no broker is contacted).
    Asyncapi {
        /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// `yaml` or `json`.
        #[arg(long, default_value_t = asyncapi::Format::Yaml, value_name = "yaml|json")]
        format: asyncapi::Format,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo {
            config,
            orders,
            json,
            seed,
            timeout_secs,
            store,
            topic_prefix,
        } => {
            let config = courier_config::exit_on_error(courier_config::load(config.as_deref()));
            courier_service::init_tracing_for_at("shop", &config.telemetry, "warn");
            let options = DemoOptions {
                orders,
                seed,
                timeout: Duration::from_secs(timeout_secs),
                progress: true,
                store,
                topic_prefix,
                ..DemoOptions::default()
            };
            let code = demo(&config, options, json).await;
            courier_service::flush_traces();
            code
        }
        Command::Config { config, offline } => {
            let config = courier_config::exit_on_error(courier_config::load(config.as_deref()));
            courier_service::init_tracing_at("warn");
            show_config(&config, offline).await
        }
        Command::Asyncapi { config, format } => {
            let config = courier_config::exit_on_error(courier_config::load(config.as_deref()));
            courier_service::init_tracing_at("warn");
            print_asyncapi(&config, format).await
        }
    }
}

async fn print_asyncapi(config: &Config, format: asyncapi::Format) -> ExitCode {
    let rendered = match asyncapi::generate(config).await {
        Ok(document) => format.render(&document),
        Err(e) => Err(e),
    };
    match rendered {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: shop asyncapi: {}",
                courier_config::one_line(&e.to_string())
            );
            if e.kind() == courier_core::ErrorKind::Config {
                ExitCode::from(courier_config::EXIT_CODE as u8)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn demo(config: &Config, options: DemoOptions, json: bool) -> ExitCode {
    let summary = match shop::run_demo_with(config, options).await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: shop demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    if summary.all_settled() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: shop demo: {} orders did not settle in time",
            summary.unsettled
        );
        ExitCode::FAILURE
    }
}

async fn show_config(config: &Config, offline: bool) -> ExitCode {
    println!("# The effective configuration (defaults, file, environment); secrets show as ***.");
    print!("{}", config.redacted_toml());
    let backend = config.broker.kind;
    if offline {
        return ExitCode::SUCCESS;
    }
    println!(
        "\n# connecting to the {backend} broker to read its guarantees (--offline skips this)"
    );
    let broker = match courier_config::connect(config).await {
        Ok(broker) => broker,
        Err(e) => {
            println!("# backend {backend}: guarantees unknown, cannot connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    let caps = broker.capabilities();
    let names: Vec<&str> = caps.iter().map(Capability::name).collect();
    println!("# backend {backend} guarantees: {}", names.join(", "));
    if let Some(max) = caps.max_payload {
        println!("# largest payload: {max} bytes");
    }
    println!("# what the services need of it:");
    for (service, needs) in shop::needs() {
        let missing = caps.missing(needs);
        let listed: Vec<&str> = needs.iter().map(|c| c.name()).collect();
        let state = match (needs.is_empty(), missing.is_empty()) {
            (true, _) => "nothing beyond delivery".to_owned(),
            (false, true) => format!("{} (all given)", listed.join(", ")),
            (false, false) => {
                let m: Vec<&str> = missing.iter().map(|c| c.name()).collect();
                format!("{} (MISSING: {})", listed.join(", "), m.join(", "))
            }
        };
        println!("#   {service}: {state}");
    }
    let _ = broker.close().await;
    ExitCode::SUCCESS
}
