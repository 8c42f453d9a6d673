//! Where a [temporary](courier_core::Subscription::temporary) group starts: at the end of each
//! partition it has no committed offset for, as the end was when it subscribed, so that it
//! reads every message sent after `subscribe` returns and none from before.
//!
//! `auto.offset.reset = latest` alone would look the end up only once the partitions are
//! assigned, missing what is sent in between.

use std::{collections::HashMap, sync::Arc, time::Duration};

use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{Consumer as _, StreamConsumer},
    error::KafkaResult,
};
use tracing::warn;

use super::context::GroupContext;

/// The next offset of every partition of `topic` for which the consumer's group has no
/// committed offset. Empty when the broker cannot say (a warning is logged; the group then
/// starts where `auto.offset.reset = latest` puts it).
pub(crate) async fn ends_without_commit(
    consumer: Arc<StreamConsumer<GroupContext>>,
    topic: &str,
    timeout: Duration,
) -> HashMap<i32, i64> {
    let name = topic.to_owned();
    let looked_up = tokio::task::spawn_blocking(move || look_up(&consumer, &name, timeout)).await;
    match looked_up {
        Ok(Ok(ends)) => ends,
        Ok(Err(e)) => {
            warn!(topic, error = %e, "cannot find the end of the topic for a temporary group; it starts at the end known when its partitions are assigned");
            HashMap::new()
        }
        Err(e) => {
            warn!(topic, error = %e, "looking up the end of the topic failed");
            HashMap::new()
        }
    }
}

fn look_up(
    consumer: &StreamConsumer<GroupContext>,
    topic: &str,
    timeout: Duration,
) -> KafkaResult<HashMap<i32, i64>> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut list = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
    {
        list.add_partition(topic, partition.id());
    }
    let committed = consumer.committed_offsets(list, timeout)?;
    let mut ends = HashMap::new();
    for element in committed.elements_for_topic(topic) {
        if matches!(element.offset(), Offset::Offset(_)) {
            continue;
        }
        let (_, high) = consumer.fetch_watermarks(topic, element.partition(), timeout)?;
        ends.insert(element.partition(), high);
    }
    Ok(ends)
}
