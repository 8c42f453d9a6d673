//! Reaching the broker the services use: their config file and `COURIER_*` environment,
//! adjusted for a tool that visits rather than serves.

use std::{path::Path, sync::Arc};

use courier_config::{BrokerKind, Config};
use courier_core::Broker;

use crate::CliError;

/// Loads the configuration as the services do ([`courier_config::load`]: `path`, else
/// `$COURIER_CONFIG`, else `config/courier.toml`, then the environment), adjusts it with
/// [`for_the_tool`] and connects its broker.
///
/// # Errors
/// [`USAGE`](crate::error::USAGE) for a bad configuration, the memory backend, or a broker
/// that cannot be reached; the line names the key or the broker and never a secret.
///
/// # Cancel safety
/// Dropped before it returns, the connection being made is dropped.
pub async fn connect(path: Option<&Path>) -> Result<Arc<dyn Broker>, CliError> {
    let mut config = courier_config::load(path)?;
    for_the_tool(&mut config)?;
    let kind = config.broker.kind;
    courier_config::connect(&config)
        .await
        .map_err(|e| CliError::broker(&format!("cannot connect to the {kind} broker"), &e))
}

/// Adjusts `config` for the tool: on ZeroMQ it connects to every endpoint (the services'
/// processes bind them and hold the groups), whatever `bind` says.
///
/// # Errors
/// [`USAGE`](crate::error::USAGE) for the memory backend: its queues live inside the process
/// that runs the services, out of the tool's reach.
pub fn for_the_tool(config: &mut Config) -> Result<(), CliError> {
    match config.broker.kind {
        BrokerKind::Memory => Err(CliError::usage(
            "broker.kind is \"memory\": its queues live inside the process that runs the \
             services, out of this tool's reach; choose the services' broker with --config or \
             COURIER_BROKER__KIND",
        )),
        BrokerKind::ZeroMq => {
            let zeromq = &mut config.broker.zeromq;
            zeromq.bind = false;
            for topic in zeromq.topics.values_mut() {
                topic.bind = Some(false);
            }
            Ok(())
        }
        BrokerKind::RabbitMq | BrokerKind::Kafka => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_refused_and_zeromq_connects() {
        let mut memory = courier_config::load_from_str("", "test").unwrap();
        let error = for_the_tool(&mut memory).unwrap_err();
        assert_eq!(error.exit_code(), crate::error::USAGE);
        let mut zeromq = courier_config::load_from_str(
            "[broker]\nkind = \"zeromq\"\n[broker.zeromq]\nbind = true\n\
             [broker.zeromq.topics.\"a\"]\nbind = true\n",
            "test",
        )
        .unwrap();
        for_the_tool(&mut zeromq).unwrap();
        assert!(!zeromq.broker.zeromq.bind);
        assert_eq!(zeromq.broker.zeromq.topics["a"].bind, Some(false));
    }
}
