//! `courier send <topic>`: one message, its payload from standard input.

use std::{io::Write, sync::Arc};

use courier_core::{Broker, ErrorKind, Message, MessageId};

use crate::{CliError, args::SendArgs};

/// Sends `payload` to `args.topic` with the key, headers and id given (a fresh UUIDv7
/// without `--id`), after `args.delay` when given, waits for the broker's confirmation and
/// writes `sent <id> to <topic>` on `out`. Returns the id.
///
/// # Errors
/// [`USAGE`](crate::error::USAGE) when a delay is asked of a backend without delayed
/// delivery, or the broker cannot be reached; [`FAILED`](crate::error::FAILED) when the
/// send is not confirmed; or when writing fails.
///
/// # Cancel safety
/// Dropped before it returns, the message may or may not have been sent.
pub async fn send(
    broker: &Arc<dyn Broker>,
    args: &SendArgs,
    payload: Vec<u8>,
    out: &mut (dyn Write + Send),
) -> Result<MessageId, CliError> {
    let mut message = Message::new(payload);
    if let Some(id) = &args.id {
        message = message.with_id(id.as_str());
    }
    if let Some(key) = &args.key {
        message = message.with_key(key.as_str());
    }
    for (name, value) in &args.headers {
        message = message.with_header(name.as_str(), value.as_str());
    }
    let id = message.id.clone();
    let topic = args.topic.as_str();
    let producer = broker
        .producer()
        .await
        .map_err(|e| CliError::broker(&format!("sending to {topic}"), &e))?;
    let sent = match args.delay {
        Some(delay) if !delay.is_zero() => producer.send_after(topic, message, delay).await,
        _ => producer.send(topic, message).await,
    };
    let closed = producer.close().await;
    match sent {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            return Err(CliError::usage(format!(
                "the {} backend cannot delay a message (--delay needs delayed delivery)",
                broker.name()
            )));
        }
        Err(e) => return Err(CliError::broker(&format!("sending to {topic}"), &e)),
        Ok(()) => {}
    }
    closed.map_err(|e| CliError::broker(&format!("sending to {topic}"), &e))?;
    match args.delay {
        Some(delay) if !delay.is_zero() => writeln!(
            out,
            "sent {id} to {topic}, to be delivered in {}",
            humantime::format_duration(delay)
        )?,
        _ => writeln!(out, "sent {id} to {topic}")?,
    }
    Ok(id)
}
