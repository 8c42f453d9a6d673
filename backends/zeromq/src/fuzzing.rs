//! Entry points for the fuzz targets and the corpus replay test: not part of the API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use crate::auth::{Challenge, SharedSecret};
use crate::delay;
use crate::wire::{FromHub, ToHub, WireMessage, records};

/// Reads `data` as a ZMTP byte stream from the greeting on (greeting, then frames and
/// commands), as a socket reads what a peer sends, with a 1 MiB message limit. Never panics, never reserves more
/// than the limit.
pub fn zmtp_stream(data: &[u8]) {
    let mut options = zeromq::SocketOptions::default();
    options.max_message_size(1 << 20);
    let mut stream = zeromq::__bench::zmq_framed_read_with_options(
        futures::io::Cursor::new(data.to_vec()),
        Arc::new(options),
    );
    futures::executor::block_on(async { while let Some(Ok(_)) = stream.next().await {} });
}

/// Splits `data` into frames at `0xFF` and reads them as a request to the binding side, as a
/// reply to a peer, as the deliveries of a batched `RECORD`, and as a handshake step; the delay of a `PUBLISH` or `RETRY` goes through
/// the binding side's checks, which never let a message wait past the limit. Never panics.
pub fn courier_frames(data: &[u8]) {
    let frames: Vec<Bytes> = data
        .split(|b| *b == 0xFF)
        .map(Bytes::copy_from_slice)
        .collect();
    match ToHub::parse(frames.clone()) {
        Ok(ToHub::Publish {
            messages, delay_ms, ..
        }) => {
            within_limit(delay_ms, true);
            for message in messages {
                if let Ok(valid) = message.clone().validated() {
                    assert!(!valid.id.is_empty(), "a validated message has an id");
                }
                let _ = WireMessage::decode(message);
            }
        }
        Ok(ToHub::Retry { delay_ms, .. }) => within_limit(delay_ms, false),
        _ => {}
    }
    let _ = FromHub::parse(frames.clone());
    for record in records(frames.clone()).flatten() {
        let _ = WireMessage::decode(record.message);
    }
    let secret = SharedSecret::new(b"fuzz");
    if let Some(first) = frames.first() {
        if let Ok((challenge, _)) = Challenge::answer(&secret, first.clone()) {
            let proof = frames.get(1).cloned().unwrap_or_default();
            assert!(!challenge.accepts(&secret, &proof) || proof.len() == 64);
        }
    }
}

/// Checks that the binding side holds `delay_ms` to the default and the largest limit.
fn within_limit(delay_ms: u64, publish: bool) {
    let now = Instant::now();
    for max_ms in [
        crate::ZmqConfig::DEFAULT_MAX_DELAY_MS,
        crate::ZmqConfig::MAX_DELAY_LIMIT_MS,
    ] {
        let max = Duration::from_millis(max_ms);
        let due = if publish {
            delay::publish_due(now, delay_ms, max).unwrap_or(None)
        } else {
            delay::retry_due(now, delay_ms, max)
        };
        assert!(
            due.is_none_or(|due| due <= now + max),
            "a delay of {delay_ms} ms waits past the limit"
        );
    }
}
