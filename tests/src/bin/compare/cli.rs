//! Command-line arguments.

use std::path::{Path, PathBuf};

use clap::Parser;
use courier_core::Secret;

use crate::backend::Backend;

/// Compares courier with the raw client of each broker: throughput of produce, consume and
/// ack, end-to-end latency at a fixed rate, and the saga's orders per second.
#[derive(Debug, Parser)]
#[command(name = "compare", version)]
pub struct Args {
    /// Backends to measure, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "memory,rabbitmq,kafka,zeromq"
    )]
    pub backends: Vec<Backend>,
    /// Measured messages per run, for every backend (default: per backend, sized for a run
    /// of a few minutes on 2 cores).
    #[arg(long)]
    pub messages: Option<u64>,
    /// Payload size in bytes (at least 9: a timestamp and a phase byte).
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Interleaved runs per figure (courier, raw, bare, courier, raw, bare, ...); the median is
    /// reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Also write target/compare/report.json.
    #[arg(long)]
    pub json: bool,
    /// Latency runs send at this fraction of the measured courier throughput.
    #[arg(long, default_value_t = 0.2)]
    pub latency_fraction: f64,
    /// Upper bound of the latency runs' rate, messages per second.
    #[arg(long, default_value_t = 20_000.0)]
    pub latency_max_rate: f64,
    /// Length of each latency run, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub latency_secs: f64,
    /// Orders the saga runs per backend (0 skips it).
    #[arg(long, default_value_t = 500)]
    pub orders: u32,
    /// The stores the saga runs with, each on every backend: `memory` (in-memory SQLite),
    /// `sqlite` (files), `postgres` (a fresh database on `COURIER_TEST_POSTGRES`, default
    /// `postgres://postgres@127.0.0.1:5432`). The first one fills the main table's column.
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite,postgres")]
    pub stores: Vec<String>,
    /// RabbitMQ URL (default: `amqp://guest:***@127.0.0.1:5672/%2f`).
    #[arg(
        long,
        env = "COURIER_COMPARE_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_default_value = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub amqp_url: Secret,
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "COURIER_COMPARE_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub kafka_brokers: String,
    /// Run only the retry figure: 10,000 messages of which 1% fail transiently twice, with
    /// retries in the lane against retries through the broker, on each backend; prints its
    /// table and writes retries.md.
    #[arg(long)]
    pub retries: bool,
    /// Directory of the report files [default: target/compare in the workspace].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Args {
    /// Where the report files go.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
            tests
                .parent()
                .unwrap_or(tests)
                .join("target")
                .join("compare")
        })
    }
}

fn secret(value: &str) -> Result<Secret, String> {
    Ok(Secret::new(value))
}
