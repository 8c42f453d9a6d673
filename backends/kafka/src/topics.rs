//! Creating topics when missing (brokers such as tansu do not create them on first use), and
//! remembering which exist.

use std::{collections::HashSet, sync::RwLock};

use courier_core::{Error, ErrorKind, Result};
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};
use tracing::debug;

use crate::{BACKEND, client::ClientSettings};

/// The topics known to exist, and the admin client that creates the others.
pub(crate) struct Topics {
    admin: AdminClient<DefaultClientContext>,
    settings: ClientSettings,
    known: RwLock<HashSet<String>>,
    creating: tokio::sync::Mutex<()>,
}

impl Topics {
    pub(crate) fn new(admin: AdminClient<DefaultClientContext>, settings: ClientSettings) -> Self {
        Self {
            admin,
            settings,
            known: RwLock::new(HashSet::new()),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// The admin client.
    pub(crate) fn admin(&self) -> &AdminClient<DefaultClientContext> {
        &self.admin
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(topic)
    }

    /// Creates `topic` with the configured partitions and replication factor unless it is
    /// known to exist.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a name Kafka does not allow; [`ErrorKind::Connection`] when
    /// the broker cannot be asked or refuses.
    pub(crate) async fn ensure(&self, topic: &str) -> Result<()> {
        if self.is_known(topic) {
            return Ok(());
        }
        check_name(topic)?;
        let _one_at_a_time = self.creating.lock().await;
        if self.is_known(topic) {
            return Ok(());
        }
        let config = &self.settings.config;
        let partitions = i32::try_from(config.partitions).unwrap_or(i32::MAX);
        let new_topic = NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(i32::from(config.replication_factor)),
        );
        let options = AdminOptions::new()
            .request_timeout(Some(self.settings.request_timeout()))
            .operation_timeout(Some(self.settings.request_timeout()));
        let results = self
            .admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| {
                self.settings.error(
                    ErrorKind::Connection,
                    &format!("creating topic `{topic}`"),
                    e,
                )
            })?;
        for result in results {
            match result {
                Ok(_) => debug!(topic, partitions, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(Error::new(
                        BACKEND,
                        ErrorKind::Connection,
                        format!("creating topic `{topic}` failed: {code}"),
                    ));
                }
            }
        }
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned());
        Ok(())
    }
}

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn check_name(topic: &str) -> Result<()> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty()
        || topic.len() > 249
        || topic == "."
        || topic == ".."
        || !topic.chars().all(legal)
    {
        return Err(Error::new(
            BACKEND,
            ErrorKind::Config,
            format!(
                "`{topic}` is not a valid Kafka topic name (1 to 249 of a-z, A-Z, 0-9, `.`, `_`, `-`)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        for ok in ["orders.placed", "orders.placed.dlq", "a-b_c.9"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "has space", "slash/", "ü", &"x".repeat(250)] {
            let err = check_name(bad).expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::Config);
        }
    }
}
