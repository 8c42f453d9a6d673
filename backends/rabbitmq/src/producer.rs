//! Sending: [`RabbitMqProducer`].

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{Error, ErrorKind, Message, Producer, Result};
use lapin::types::ShortString;

use crate::{
    BACKEND,
    delay::{Delays, Destination},
    naming,
    publisher::{Outgoing, Publisher, Target},
    wire,
};

/// A producer: publishes persistent messages to the topic's exchange on a channel of its own,
/// in confirm mode, keeping up to `confirm_window` confirms outstanding.
///
/// `send` returns `Ok` only once RabbitMQ has confirmed the message. A message whose channel
/// or connection drops before its confirm is published again after reconnecting (so it may
/// arrive twice) until `send_timeout_ms` runs out.
#[derive(Debug)]
pub struct RabbitMqProducer {
    publisher: Publisher,
    delays: Arc<Delays>,
    mandatory: bool,
    max_payload: usize,
}

impl RabbitMqProducer {
    pub(crate) fn new(
        publisher: Publisher,
        delays: Arc<Delays>,
        mandatory: bool,
        max_payload: usize,
    ) -> Self {
        Self {
            publisher,
            delays,
            mandatory,
            max_payload,
        }
    }

    fn encode(&self, message: &Message) -> Result<Outgoing> {
        if message.payload.len() > self.max_payload {
            return Err(Error::new(
                BACKEND,
                ErrorKind::Unsupported,
                format!(
                    "message {} has a payload of {} bytes, more than max_payload ({} bytes)",
                    message.id,
                    message.payload.len(),
                    self.max_payload
                ),
            ));
        }
        Ok(Outgoing {
            routing_key: ShortString::default(),
            properties: wire::properties(message)?,
            body: message.payload.clone(),
        })
    }

    fn target(&self, topic: &str) -> Result<Target> {
        naming::check_name("topic", topic)
            .map_err(|problem| Error::new(BACKEND, ErrorKind::Config, problem))?;
        Ok(Target {
            exchange: topic.into(),
            declare: true,
            mandatory: self.mandatory,
        })
    }
}

#[async_trait]
impl Producer for RabbitMqProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        let target = self.target(topic)?;
        let outgoing = self.encode(&message)?;
        self.publisher.publish(&target, vec![outgoing]).await
    }

    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let target = self.target(topic)?;
        let outgoing = messages
            .iter()
            .map(|m| self.encode(m))
            .collect::<Result<Vec<_>>>()?;
        self.publisher.publish(&target, outgoing).await
    }

    /// Publishes to the topic's delay queue for `delay`, from where RabbitMQ moves the message
    /// to the topic's exchange (see "Delays" in docs/rabbitmq.md).
    async fn send_after(&self, topic: &str, message: Message, delay: Duration) -> Result<()> {
        if delay.is_zero() {
            return self.send(topic, message).await;
        }
        self.target(topic)?;
        let outgoing = self.encode(&message)?;
        self.delays
            .send(
                &self.publisher,
                Destination::Topic(topic),
                delay,
                vec![outgoing],
            )
            .await
    }

    async fn flush(&self) -> Result<()> {
        self.publisher.flush().await;
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        self.publisher.close().await;
        Ok(())
    }
}
