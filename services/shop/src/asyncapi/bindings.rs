//! What the configured backend adds to the document: its servers and its AsyncAPI bindings
//! (AMQP for RabbitMQ, Kafka for Kafka; none exist for ZeroMQ or the in-memory queue).

use courier_config::{BrokerKind, Config};
use courier_core::{Error, ErrorKind, Result};
use courier_kafka::KafkaConfig;
use courier_rabbitmq::RabbitMqConfig;
use courier_zeromq::ZmqConfig;
use serde_json::{Value, json};

use super::model::{Ordered, Server};

const AMQP_BINDING: &str = "0.3.0";
const KAFKA_BINDING: &str = "0.5.0";

/// The configured backend, with its settings.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    /// The in-memory queue.
    Memory,
    /// RabbitMQ.
    RabbitMq(&'a RabbitMqConfig),
    /// Kafka.
    Kafka(&'a KafkaConfig),
    /// ZeroMQ.
    ZeroMq(&'a ZmqConfig),
}

/// The queue a group reads on RabbitMQ, as a channel of its own.
#[derive(Clone, Debug)]
pub struct QueueChannel {
    /// The queue's name.
    pub address: String,
    /// Its kind, durability and expiry, for people.
    pub description: String,
    /// The AMQP queue binding.
    pub bindings: Value,
}

impl<'a> Backend<'a> {
    /// The backend `config` selects.
    pub fn of(config: &'a Config) -> Self {
        let broker = &config.broker;
        match broker.kind {
            BrokerKind::Memory => Self::Memory,
            BrokerKind::RabbitMq => Self::RabbitMq(&broker.rabbitmq),
            BrokerKind::Kafka => Self::Kafka(&broker.kafka),
            BrokerKind::ZeroMq => Self::ZeroMq(&broker.zeromq),
        }
    }

    /// Which backend it is.
    pub fn kind(&self) -> BrokerKind {
        match self {
            Self::Memory => BrokerKind::Memory,
            Self::RabbitMq(_) => BrokerKind::RabbitMq,
            Self::Kafka(_) => BrokerKind::Kafka,
            Self::ZeroMq(_) => BrokerKind::ZeroMq,
        }
    }

    /// How topics and groups map onto the backend, and which bindings the document has.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Memory => {
                "The in-memory backend lives inside one process: a topic is a name and each \
                 group a queue in memory. AsyncAPI defines no bindings for it, so channels, \
                 operations and messages carry none, and no server is listed."
            }
            Self::RabbitMq(_) => {
                "On RabbitMQ a topic is a durable `fanout` exchange of its name, and each group \
                 a queue bound to it (`<topic>.<group>` unless `[broker.rabbitmq.queues]` \
                 names another). The channel of a topic carries its exchange binding; each \
                 group's queue is a channel of its own with its queue binding, and the receive \
                 operations read from those queues. Messages are persistent and sends wait for \
                 publisher confirms."
            }
            Self::Kafka(_) => {
                "On Kafka a topic is a Kafka topic, created when missing with the configured \
                 partitions and replication factor (dead-letter topics too), and each group a \
                 consumer group (`group.id` from `[broker.kafka] group_id`). The key, the order \
                 id for the saga's events, picks the partition, so one order's events keep \
                 their order. Channels carry the Kafka topic binding, receive operations the \
                 consumer group and client id, messages the key."
            }
            Self::ZeroMq(_) => {
                "ZeroMQ is brokerless: the process with `bind = true` runs a hub that routes \
                 each topic's messages to its groups over ZMTP, and every group's members share \
                 its messages. AsyncAPI defines no bindings for ZeroMQ, so channels, operations \
                 and messages carry none; the server is the hub's endpoint."
            }
        }
    }

    /// The brokers, without credentials.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a RabbitMQ URL or ZeroMQ endpoint that cannot be read.
    pub fn servers(&self) -> Result<Ordered<Server>> {
        let mut servers = Ordered::default();
        let mut add = |id: String, server: Server| {
            servers
                .insert(id, server)
                .map_err(|id| bad(format!("server {id} is listed twice")))
        };
        match self {
            Self::Memory => {}
            Self::RabbitMq(c) => {
                let url = url::Url::parse(&c.url)
                    .map_err(|e| bad(format!("broker.rabbitmq.url cannot be read: {e}")))?;
                let host = url.host_str().unwrap_or("localhost");
                let tls = url.scheme() == "amqps";
                let port = url.port().unwrap_or(if tls { 5671 } else { 5672 });
                add(
                    "rabbitmq".into(),
                    Server {
                        host: format!("{host}:{port}"),
                        protocol: url.scheme().into(),
                        protocol_version: Some("0.9.1".into()),
                        pathname: Some(match url.path() {
                            "" => "/".to_owned(),
                            path => path.to_owned(),
                        }),
                        description: format!(
                            "RabbitMQ, virtual host `{}`{}.",
                            vhost(c)?,
                            if tls { ", over TLS" } else { "" }
                        ),
                    },
                )?;
            }
            Self::Kafka(c) => {
                let brokers: Vec<&str> = c
                    .brokers
                    .split(',')
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .collect();
                for (i, host) in brokers.iter().enumerate() {
                    let id = match brokers.len() {
                        1 => "kafka".to_owned(),
                        _ => format!("kafka-{}", i + 1),
                    };
                    let server = Server {
                        host: (*host).to_owned(),
                        protocol: "kafka".into(),
                        protocol_version: None,
                        pathname: None,
                        description: "A bootstrap broker of the Kafka cluster (Apache Kafka \
                                      or a Kafka-compatible broker such as tansu)."
                            .into(),
                    };
                    add(id, server)?;
                }
            }
            Self::ZeroMq(c) => {
                let (scheme, rest) = c.endpoint.split_once("://").ok_or_else(|| {
                    bad(format!(
                        "broker.zeromq.endpoint {:?} has no scheme",
                        c.endpoint
                    ))
                })?;
                let (host, pathname) = match scheme {
                    "tcp" => (rest.to_owned(), None),
                    _ => (
                        "localhost".to_owned(),
                        Some(format!("/{}", rest.trim_start_matches('/'))),
                    ),
                };
                let role = if c.bind {
                    "the services bind it"
                } else {
                    "the services connect to it"
                };
                add(
                    "zeromq".into(),
                    Server {
                        host,
                        protocol: "zmtp".into(),
                        protocol_version: Some("3.1".into()),
                        pathname,
                        description: format!("The ZeroMQ hub at `{}` ({role}).", c.endpoint),
                    },
                )?;
            }
        }
        Ok(servers)
    }

    /// The binding of the channel of `topic`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a name RabbitMQ refuses.
    pub fn topic(&self, topic: &str) -> Result<Option<Value>> {
        Ok(match self {
            Self::Memory | Self::ZeroMq(_) => None,
            Self::RabbitMq(c) => Some(json!({"amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": topic,
                    "type": "fanout",
                    "durable": true,
                    "autoDelete": false,
                    "vhost": vhost(c)?,
                },
                "bindingVersion": AMQP_BINDING,
            }})),
            Self::Kafka(c) => Some(json!({"kafka": {
                "topic": topic,
                "partitions": c.partitions,
                "replicas": c.replication_factor,
                "bindingVersion": KAFKA_BINDING,
            }})),
        })
    }

    /// The queue `group` reads `topic` from, on RabbitMQ; `None` elsewhere.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a name RabbitMQ refuses.
    pub fn queue(&self, topic: &str, group: &str) -> Result<Option<QueueChannel>> {
        let Self::RabbitMq(c) = self else {
            return Ok(None);
        };
        let q = c.declared_queue(topic, group)?;
        let mut description = format!(
            "The queue of group `{group}` on topic `{topic}`: {} {}, bound to exchange `{}`",
            if q.durable { "durable" } else { "non-durable" },
            q.queue_type,
            q.exchange,
        );
        if let Some(ms) = q.expires_ms {
            description.push_str(&format!(", deleted after {ms} ms unused (x-expires)"));
        }
        description.push('.');
        if q.queue != format!("{topic}.{group}") {
            description.push_str(
                " Named in `[broker.rabbitmq.queues]`: a plain AMQP client can publish to it \
                 through the default exchange, with the queue's name as routing key.",
            );
        }
        let bindings = json!({"amqp": {
            "is": "queue",
            "queue": {
                "name": q.queue,
                "durable": q.durable,
                "exclusive": false,
                "autoDelete": false,
                "vhost": vhost(c)?,
            },
            "bindingVersion": AMQP_BINDING,
        }});
        Ok(Some(QueueChannel {
            address: q.queue,
            description,
            bindings,
        }))
    }

    /// The binding of a receive operation of `group` on `topic`.
    pub fn receive(&self, topic: &str, group: &str) -> Option<Value> {
        match self {
            Self::Memory | Self::ZeroMq(_) => None,
            Self::RabbitMq(_) => Some(json!({"amqp": {
                "ack": true,
                "bindingVersion": AMQP_BINDING,
            }})),
            Self::Kafka(c) => Some(json!({"kafka": {
                "groupId": {"type": "string", "enum": [c.kafka_group(topic, group)]},
                "clientId": {"type": "string", "enum": [c.client_id]},
                "bindingVersion": KAFKA_BINDING,
            }})),
        }
    }

    /// The binding of a send operation.
    pub fn send(&self) -> Option<Value> {
        match self {
            Self::Memory | Self::ZeroMq(_) | Self::Kafka(_) => None,
            Self::RabbitMq(c) => Some(json!({"amqp": {
                "deliveryMode": 2,
                "mandatory": c.mandatory,
                "bindingVersion": AMQP_BINDING,
            }})),
        }
    }

    /// The binding of a message; `keyed` when it carries the order id as its key.
    pub fn message(&self, keyed: bool) -> Option<Value> {
        match self {
            Self::Kafka(_) => Some(json!({"kafka": {
                "key": if keyed {
                    json!({"type": "string", "description": "The order id: it picks the \
                           partition, so one order's events keep their order."})
                } else {
                    json!({"type": "string", "description": "Whatever key the producer \
                           gives, if any."})
                },
                "bindingVersion": KAFKA_BINDING,
            }})),
            _ => None,
        }
    }
}

/// The virtual host of the RabbitMQ URL: its path, percent-decoded; `/` when empty.
fn vhost(c: &RabbitMqConfig) -> Result<String> {
    let url = url::Url::parse(&c.url)
        .map_err(|e| bad(format!("broker.rabbitmq.url cannot be read: {e}")))?;
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return Ok("/".into());
    }
    let bytes: Vec<u8> = percent_decode(path.as_bytes())
        .ok_or_else(|| bad("broker.rabbitmq.url has a broken %-escape in its vhost".into()))?;
    String::from_utf8(bytes).map_err(|_| bad("broker.rabbitmq.url's vhost is not UTF-8".into()))
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = std::str::from_utf8(input.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

fn bad(problem: String) -> Error {
    Error::new("asyncapi", ErrorKind::Config, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vhost_is_decoded_and_credentials_stay_out() {
        let mut c = RabbitMqConfig {
            url: "amqp://guest:hunter2@rabbit.example:5673/%2f".into(),
            ..RabbitMqConfig::default()
        };
        assert_eq!(vhost(&c).expect("readable"), "/");
        let servers = Backend::RabbitMq(&c).servers().expect("readable");
        let (_, server) = servers.iter().next().expect("one server");
        assert_eq!(server.host, "rabbit.example:5673");
        assert!(!format!("{server:?}").contains("hunter2"));
        c.url = "amqps://u@h/shop%2Dtest".into();
        assert_eq!(vhost(&c).expect("readable"), "shop-test");
        c.url = "amqp://h".into();
        assert_eq!(vhost(&c).expect("readable"), "/");
        c.url = "amqp://h/%zz".into();
        assert!(vhost(&c).is_err());
    }
}
