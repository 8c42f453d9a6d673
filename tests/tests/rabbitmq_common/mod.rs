//! Helpers shared by the RabbitMQ test files: reaching the broker (or skipping), a fresh
//! virtual host per run that is deleted afterwards, and `rabbitmqctl`.

#![allow(dead_code)]

use std::{net::TcpStream, process::Command, time::Duration};

use courier_rabbitmq::{RabbitMqBroker, RabbitMqConfig};
use courier_tests::support::{broker_absent, unique_name};

/// Where the tests expect RabbitMQ.
pub const ADDRESS: &str = "127.0.0.1:5672";

/// Whether something listens on [`ADDRESS`]; reports the skip (or fails in CI) when not.
pub fn broker_present() -> bool {
    init_logging();
    let address = ADDRESS.parse().expect("a socket address");
    match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
        Ok(_) => true,
        Err(e) => {
            broker_absent("rabbitmq", &format!("nothing listens on {ADDRESS}: {e}"));
            false
        }
    }
}

/// Runs `rabbitmqctl` with `args`, returning its standard output, or why it failed.
pub fn rabbitmqctl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run rabbitmqctl: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "rabbitmqctl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A virtual host of its own for one test run, deleted (with every queue and exchange in it)
/// when dropped. Without `rabbitmqctl` (not installed, not permitted) it falls back to the
/// default vhost `/`, where the tests' queues carry `x-expires` and vanish by themselves.
pub struct Vhost {
    name: Option<String>,
}

impl Vhost {
    /// Creates `courier-test-<random>` and grants `guest` every permission on it.
    pub fn create() -> Self {
        let name = unique_name("courier-test");
        let created = rabbitmqctl(&["add_vhost", &name]).and_then(|_| {
            rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])
        });
        match created {
            Ok(_) => Self { name: Some(name) },
            Err(e) => {
                eprintln!("using the default vhost with expiring queues: {e}");
                Self { name: None }
            }
        }
    }

    /// The AMQP URL of this vhost.
    pub fn url(&self) -> String {
        match &self.name {
            Some(name) => format!("amqp://guest:guest@{ADDRESS}/{name}"),
            None => format!("amqp://guest:guest@{ADDRESS}/%2f"),
        }
    }

    /// A configuration for this vhost; queues expire after a minute unused either way.
    pub fn config(&self) -> RabbitMqConfig {
        RabbitMqConfig {
            url: self.url(),
            queue_expires_ms: Some(60_000),
            ..RabbitMqConfig::default()
        }
    }

    /// Connects with `config`, failing the test when that fails.
    pub async fn connect(&self, config: RabbitMqConfig) -> RabbitMqBroker {
        RabbitMqBroker::connect(config)
            .await
            .unwrap_or_else(|e| panic!("connecting to RabbitMQ at {}: {e}", self.url()))
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            if let Err(e) = rabbitmqctl(&["delete_vhost", name]) {
                eprintln!("could not delete vhost {name}: {e}");
            }
        }
    }
}

impl Vhost {
    /// The vhost's name (`/` when the default one is used).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("/")
    }

    /// Closes every client connection of this vhost, as an operator would with
    /// `rabbitmqctl close_all_connections <reason>`.
    pub fn close_all_connections(&self, reason: &str) -> Result<String, String> {
        rabbitmqctl(&[
            "close_all_connections",
            "-p",
            self.name(),
            "--limit",
            "10000",
            reason,
        ])
    }
}

impl Vhost {
    /// Whether this run has a vhost of its own (fixed queue names cannot collide).
    pub fn is_isolated(&self) -> bool {
        self.name.is_some()
    }
}

/// Logs to the test output at `RUST_LOG` (default `warn`), once per process.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
