//! `courier tail <topic>`: prints the messages of a topic as they arrive.
//!
//! It reads through a temporary group of its own
//! ([`Subscription::temporary`]), so that it takes no message from the services' groups and
//! leaves nothing growing on the broker once it stops.

use std::{collections::BTreeMap, future::Future, io::Write, pin::pin, sync::Arc};

use courier_core::{Broker, Consumer, Delivery, Subscription};
use serde::Serialize;

use crate::{
    CliError,
    args::TailArgs,
    payload::{Payload, escape_controls},
};

/// Deliveries received at once.
const BATCH: usize = 64;

/// One message as `tail --json` prints it.
#[derive(Debug, Serialize)]
struct Line<'a> {
    topic: &'a str,
    id: &'a str,
    key: Option<&'a str>,
    attempt: u32,
    headers: &'a BTreeMap<String, String>,
    payload: Payload,
}

/// Prints each message of `args.topic` on `out` as it arrives (one line each: text, or
/// JSON with `args.json`) and acks it, reading through the temporary group `group`, until
/// `stop` completes, `args.count` messages were printed or the consumer closes. Returns how
/// many were printed. The consumer is closed in every case, which removes the group.
///
/// # Errors
/// When the broker cannot be reached or refuses the group, receiving fails, or writing
/// fails (a closed pipe, for one).
///
/// # Cancel safety
/// Dropped before it returns, the consumer is dropped: the backend removes the group as for
/// a close (RabbitMQ once the channel closes, memory and ZeroMQ at once).
pub async fn tail(
    broker: &Arc<dyn Broker>,
    args: &TailArgs,
    group: &str,
    out: &mut (dyn Write + Send),
    stop: impl Future<Output = ()> + Send,
) -> Result<usize, CliError> {
    let topic = args.topic.as_str();
    let subscription = Subscription::new(topic, group)
        .with_prefetch(BATCH)
        .with_temporary();
    let mut consumer = broker
        .subscribe(subscription)
        .await
        .map_err(|e| CliError::broker(&format!("tailing {topic}"), &e))?;
    let printed = follow(consumer.as_mut(), args, out, stop).await;
    let closed = consumer.close().await;
    let printed = printed?;
    closed.map_err(|e| CliError::broker(&format!("closing the tail of {topic}"), &e))?;
    Ok(printed)
}

async fn follow(
    consumer: &mut dyn Consumer,
    args: &TailArgs,
    out: &mut (dyn Write + Send),
    stop: impl Future<Output = ()> + Send,
) -> Result<usize, CliError> {
    let mut stop = pin!(stop);
    let mut printed = 0usize;
    let wanted = args.count.unwrap_or(usize::MAX);
    while printed < wanted {
        let batch = tokio::select! {
            biased;
            () = &mut stop => break,
            batch = consumer.recv_batch(BATCH) => batch,
        };
        let mut batch =
            batch.map_err(|e| CliError::broker(&format!("tailing {}", args.topic), &e))?;
        if batch.is_empty() {
            break;
        }
        // What is past the count is not printed nor acked: it goes with the group.
        batch.truncate(wanted - printed);
        for delivery in &batch {
            write_line(out, delivery, args.json)?;
        }
        out.flush()?;
        printed += batch.len();
        Delivery::ack_all(&mut batch)
            .await
            .map_err(|e| CliError::broker(&format!("tailing {}", args.topic), &e))?;
    }
    Ok(printed)
}

fn write_line(out: &mut dyn Write, delivery: &Delivery, json: bool) -> Result<(), CliError> {
    let m = &delivery.message;
    let id = m.id.text();
    if json {
        let line = Line {
            topic: delivery.topic(),
            id: id.as_str(),
            key: m.key.as_deref(),
            attempt: delivery.attempt,
            headers: &m.headers,
            payload: Payload::of(&m.payload),
        };
        serde_json::to_writer(&mut *out, &line)
            .map_err(|e| CliError::failed(format!("writing JSON failed: {e}")))?;
        writeln!(out)?;
        return Ok(());
    }
    let headers: Vec<String> = m
        .headers
        .iter()
        .map(|(k, v)| format!("{}={}", escape_controls(k), escape_controls(v)))
        .collect();
    let payload = Payload::of(&m.payload);
    writeln!(
        out,
        "{} id={} key={} headers={{{}}} payload{}={}",
        delivery.topic(),
        escape_controls(id.as_str()),
        m.key
            .as_deref()
            .map_or_else(|| "-".to_owned(), escape_controls),
        headers.join(", "),
        if payload.encoding == "hex" {
            "(hex)"
        } else {
            ""
        },
        payload.one_line()
    )?;
    Ok(())
}
