//! A broker wrapper that breaks one guarantee on purpose ([`FaultyBroker`]), so the suite's own
//! tests can prove that each conformance test fails when its guarantee is broken.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use courier_core::{
    Ack, Broker, Capabilities, Consumer, Delivery, Error, ErrorKind, Message, Origin, Producer,
    Result, Subscription,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The backend name errors of the wrapper carry.
const NAME: &str = "faulty";

/// The guarantee a [`FaultyBroker`] breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every n-th `send` returns `Ok` without sending.
    LoseEveryNth(u64),
    /// Every n-th `send` sends the message twice.
    DuplicateEveryNth(u64),
    /// Headers with an empty value are dropped on the way.
    DropEmptyHeaders,
    /// `send_batch` sends its messages in reverse order.
    ReverseBatches,
    /// `send` and `send_batch` never complete.
    HangSends,
    /// Producer `close` does not close: later sends still succeed.
    SendAfterCloseSucceeds,
    /// `nack(requeue = true)` acks instead.
    RequeueActsAsAck,
    /// `nack(requeue = false)` requeues instead.
    RejectRequeues,
    /// Every delivery says attempt 1, not redelivered.
    AttemptAlwaysOne,
    /// The consumer asks the backend for four times its prefetch.
    IgnorePrefetch,
    /// A consumer that is closed or dropped acks what it held, so it is never delivered again.
    ForgetUnackedOnClose,
    /// `recv` after `close` fails instead of returning `None`.
    RecvAfterCloseFails,
    /// `ack_batch` acks only the first delivery of the batch and returns `Ok`.
    AckBatchAcksFirstOnly,
}

/// Wraps a broker and breaks the guarantee named by its [`Fault`]; everything else passes
/// through, including the capabilities (it claims what it breaks, as a buggy backend would).
pub struct FaultyBroker {
    inner: Arc<dyn Broker>,
    fault: Fault,
}

impl FaultyBroker {
    /// `inner` with `fault`.
    pub fn new(inner: Arc<dyn Broker>, fault: Fault) -> Self {
        Self { inner, fault }
    }
}

#[async_trait]
impl Broker for FaultyBroker {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        Ok(Arc::new(FaultyProducer {
            inner: self.inner.producer().await?,
            fault: self.fault,
            sent: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }))
    }

    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        self.inner.declare_group(topic, group).await
    }

    async fn subscribe(&self, mut subscription: Subscription) -> Result<Box<dyn Consumer>> {
        if self.fault == Fault::IgnorePrefetch {
            subscription.prefetch *= 4;
        }
        let topic = subscription.topic.clone();
        let inner = self.inner.subscribe(subscription).await?;
        let held = Arc::new(Held::default());
        let acker = Arc::new(FaultyAck {
            held: held.clone(),
            fault: self.fault,
        });
        Ok(Box::new(FaultyConsumer {
            inner: Some(inner),
            origin: Origin::new(topic, acker),
            held,
            fault: self.fault,
            closed: false,
        }))
    }
}

struct FaultyProducer {
    inner: Arc<dyn Producer>,
    fault: Fault,
    sent: AtomicU64,
    closed: AtomicBool,
}

impl FaultyProducer {
    /// What actually goes out for `message`: nothing, it, or it twice.
    fn mangle(&self, mut message: Message) -> Vec<Message> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        match self.fault {
            Fault::LoseEveryNth(k) if n.checked_rem(k) == Some(0) => Vec::new(),
            Fault::DuplicateEveryNth(k) if n.checked_rem(k) == Some(0) => {
                vec![message.clone(), message]
            }
            Fault::DropEmptyHeaders => {
                message.headers.retain(|_, v| !v.is_empty());
                vec![message]
            }
            _ => vec![message],
        }
    }

    async fn gate(&self) -> Result<()> {
        if self.fault == Fault::HangSends {
            std::future::pending::<()>().await;
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(NAME, "the producer"));
        }
        Ok(())
    }
}

#[async_trait]
impl Producer for FaultyProducer {
    async fn send(&self, topic: &str, message: Message) -> Result<()> {
        self.gate().await?;
        self.inner.send_batch(topic, self.mangle(message)).await
    }

    async fn send_batch(&self, topic: &str, messages: Vec<Message>) -> Result<()> {
        self.gate().await?;
        let mut out: Vec<Message> = messages.into_iter().flat_map(|m| self.mangle(m)).collect();
        if self.fault == Fault::ReverseBatches {
            out.reverse();
        }
        self.inner.send_batch(topic, out).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn close(&self) -> Result<()> {
        if self.fault == Fault::SendAfterCloseSucceeds {
            return self.inner.flush().await;
        }
        self.closed.store(true, Ordering::Release);
        self.inner.close().await
    }
}

/// The backend's deliveries, by the token of the wrapper's delivery.
#[derive(Default)]
struct Held {
    deliveries: Mutex<HashMap<u64, Delivery>>,
    next: AtomicU64,
}

struct FaultyAck {
    held: Arc<Held>,
    fault: Fault,
}

impl FaultyAck {
    fn take(&self, token: u64) -> Result<Delivery> {
        lock(&self.held.deliveries)
            .remove(&token)
            .ok_or_else(|| Error::new(NAME, ErrorKind::Ack, "unknown delivery"))
    }
}

#[async_trait]
impl Ack for FaultyAck {
    async fn ack(&self, token: u64) -> Result<()> {
        self.take(token)?.ack().await
    }

    async fn nack(&self, token: u64, requeue: bool) -> Result<()> {
        let mut delivery = self.take(token)?;
        match (self.fault, requeue) {
            (Fault::RequeueActsAsAck, true) => delivery.ack().await,
            (Fault::RejectRequeues, false) => delivery.nack(true).await,
            _ => delivery.nack(requeue).await,
        }
    }

    /// Acks the backend's deliveries with one `ack_all`, so the backend's own `ack_batch`
    /// runs.
    async fn ack_batch(&self, tokens: &[u64]) -> Result<()> {
        let tokens = if self.fault == Fault::AckBatchAcksFirstOnly {
            &tokens[..tokens.len().min(1)]
        } else {
            tokens
        };
        let (mut taken, unknown) = {
            let mut held = lock(&self.held.deliveries);
            let taken: Vec<Delivery> = tokens.iter().filter_map(|t| held.remove(t)).collect();
            let unknown = taken.len() < tokens.len();
            (taken, unknown)
        };
        Delivery::ack_all(&mut taken).await?;
        if unknown {
            return Err(Error::new(NAME, ErrorKind::Ack, "unknown delivery"));
        }
        Ok(())
    }
}

struct FaultyConsumer {
    inner: Option<Box<dyn Consumer>>,
    /// One topic and acker for every delivery of the consumer, as a backend has.
    origin: Arc<Origin>,
    held: Arc<Held>,
    fault: Fault,
    closed: bool,
}

impl FaultyConsumer {
    fn wrap(&self, delivery: Delivery) -> Delivery {
        let token = self.held.next.fetch_add(1, Ordering::Relaxed);
        let (attempt, redelivered) = if self.fault == Fault::AttemptAlwaysOne {
            (1, false)
        } else {
            (delivery.attempt, delivery.redelivered)
        };
        let wrapped = Delivery::new(
            delivery.message.clone(),
            self.origin.clone(),
            attempt,
            token,
        )
        .with_redelivered(redelivered);
        lock(&self.held.deliveries).insert(token, delivery);
        wrapped
    }

    fn inner(&mut self) -> Result<&mut Box<dyn Consumer>> {
        self.inner
            .as_mut()
            .ok_or_else(|| Error::closed(NAME, "the consumer"))
    }
}

/// Acks every delivery `held` still has.
async fn forget(held: &Held) {
    let all: Vec<Delivery> = lock(&held.deliveries).drain().map(|(_, d)| d).collect();
    for mut d in all {
        let _ = d.ack().await;
    }
}

#[async_trait]
impl Consumer for FaultyConsumer {
    async fn recv(&mut self) -> Result<Option<Delivery>> {
        if self.closed && self.fault == Fault::RecvAfterCloseFails {
            return Err(Error::closed(NAME, "the consumer"));
        }
        let received = self.inner()?.recv().await?;
        Ok(received.map(|d| self.wrap(d)))
    }

    async fn recv_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        if self.closed && self.fault == Fault::RecvAfterCloseFails {
            return Err(Error::closed(NAME, "the consumer"));
        }
        let batch = self.inner()?.recv_batch(max).await?;
        Ok(batch.into_iter().map(|d| self.wrap(d)).collect())
    }

    async fn close(&mut self) -> Result<()> {
        if self.fault == Fault::ForgetUnackedOnClose {
            forget(&self.held).await;
        }
        self.closed = true;
        self.inner()?.close().await
    }
}

impl Drop for FaultyConsumer {
    fn drop(&mut self) {
        if self.fault != Fault::ForgetUnackedOnClose || self.closed {
            return;
        }
        // Ack what was held before the backend's consumer goes (it would give them back).
        let (held, inner) = (self.held.clone(), self.inner.take());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                forget(&held).await;
                drop(inner);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use courier_memory::MemoryBroker;

    use super::*;
    use crate::{SuiteOptions, run_selected_with};

    const TEST: &str = "ack_batch_settles_every_delivery";

    fn options() -> SuiteOptions {
        SuiteOptions {
            timeout: Duration::from_secs(10),
            settle: Duration::from_millis(100),
        }
    }

    /// The batch test fails when a backend's `ack_batch` settles only part of the batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_notices_an_ack_batch_that_ignores_tokens() {
        let broker = Arc::new(FaultyBroker::new(
            Arc::new(MemoryBroker::default()),
            Fault::AckBatchAcksFirstOnly,
        ));
        let report = run_selected_with(broker, &[TEST], options()).await;
        let entry = report.entries.first().expect("one entry");
        assert!(
            entry.failed(),
            "{TEST} passed with a broken ack_batch: {}",
            entry.status()
        );
        assert!(
            entry.status().contains("delivered again"),
            "{TEST} failed for another reason: {}",
            entry.status()
        );
    }

    /// Without the fault, the wrapper passes batches through to the backend's `ack_batch`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wrapper_without_the_fault_passes_the_batch_test() {
        let broker = Arc::new(FaultyBroker::new(
            Arc::new(MemoryBroker::default()),
            Fault::RecvAfterCloseFails,
        ));
        run_selected_with(broker, &[TEST], options())
            .await
            .assert_passed();
    }
}
