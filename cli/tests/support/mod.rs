//! What the tests of the commands share: dead letters put straight on a memory broker's
//! DLQ, a writer the tests can read while a command writes, and short reads.

#![allow(dead_code)]

use std::{
    io::Write,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use courier_cli::args::ReadArgs;
use courier_core::{Broker, Message, headers};

/// Reads that stop after 200 ms of quiet: the memory broker answers at once.
pub fn quick() -> ReadArgs {
    ReadArgs {
        limit: 1000,
        idle: Duration::from_millis(200),
    }
}

/// A dead letter of `topic` with `id`, as the runtime writes it.
pub fn dead_letter(topic: &str, id: &str, reason: &str) -> Message {
    Message::new(format!("payload of {id}"))
        .with_id(id)
        .with_key(format!("key-{id}"))
        .with_header("trace", "t-1")
        .with_header(headers::DLQ_REASON, reason)
        .with_header(headers::DLQ_KIND, "permanent")
        .with_header(headers::DLQ_ATTEMPTS, "1")
        .with_header(headers::DLQ_TOPIC, topic)
        .with_header(headers::DLQ_GROUP, "billing")
        .with_header(headers::DLQ_AT, "1764758400123")
}

/// Declares the DLQ group of `topic` and puts `letters` on `<topic>.dlq`.
pub async fn put_dead_letters(broker: &Arc<dyn Broker>, topic: &str, letters: Vec<Message>) {
    let dlq = headers::dlq_topic(topic);
    broker
        .declare_group(&dlq, headers::DEAD_LETTER_GROUP)
        .await
        .expect("declares");
    let producer = broker.producer().await.expect("a producer");
    producer.send_batch(&dlq, letters).await.expect("sends");
}

/// A writer whose bytes the test reads while a command still writes.
#[derive(Clone, Default)]
pub struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for SharedOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
