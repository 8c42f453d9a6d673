//! Transactional handlers: [`TxHandler`], and [`TxRuntime`] to register them on a
//! [`Runtime`].

use std::{marker::PhantomData, sync::Arc};

use async_trait::async_trait;
use courier_core::{Context, Handler, HandlerError, Message, Runtime, codec};
use serde::de::DeserializeOwned;
use tracing::debug;

use crate::{Store, Tx};

/// Handles one event inside a database transaction.
///
/// The runtime opens the transaction, claims the delivery in the inbox (a duplicate never
/// reaches the handler), runs the handler, writes what it [sent](Tx::send) to the outbox,
/// commits, and only then acks. An error rolls everything back; retry, backoff, attempts and
/// the dead-letter topic work as for any handler, and a database error is transient.
#[async_trait]
pub trait TxHandler<T>: Send + Sync + 'static {
    /// Handles `event`, changing state through `tx`.
    ///
    /// # Errors
    /// [`HandlerError::Transient`] to have it retried, [`HandlerError::Permanent`] to have
    /// it dead-lettered at once. Either way nothing of `tx` is kept.
    async fn handle(&self, event: T, tx: &mut Tx, context: &Context) -> Result<(), HandlerError>;
}

/// How a [`Transactional`] handler reads a message.
pub trait Decode: Sized + Send + 'static {
    /// The value of `message`.
    ///
    /// # Errors
    /// A permanent error for a message that cannot be read.
    fn decode(message: &Message) -> Result<Self, HandlerError>;
}

/// The raw message, as sent.
impl Decode for Message {
    fn decode(message: &Message) -> Result<Self, HandlerError> {
        Ok(message.clone())
    }
}

/// A JSON event (see [`codec::from_json`]).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> Decode for Json<T> {
    fn decode(message: &Message) -> Result<Self, HandlerError> {
        codec::from_json(message)
            .map(Json)
            .map_err(HandlerError::permanent)
    }
}

/// A [`Handler`] that runs a [`TxHandler`] in a transaction of `store` with the inbox claimed.
pub struct Transactional<T, H> {
    store: Store,
    handler: Arc<H>,
    _event: PhantomData<fn() -> T>,
}

impl<T, H> Transactional<T, H> {
    /// `handler` on `store`.
    pub fn new(store: Store, handler: Arc<H>) -> Self {
        Self {
            store,
            handler,
            _event: PhantomData,
        }
    }
}

#[async_trait]
impl<T: Decode, H: TxHandler<T>> Handler for Transactional<T, H> {
    async fn handle(&self, message: &Message, context: &Context) -> Result<(), HandlerError> {
        let event = T::decode(message)?;
        let mut tx = self.store.begin().await?;
        if !tx.claim(&context.group, &message.id.text()).await? {
            debug!(id = %message.id, group = %context.group, "handled before; duplicate ignored");
            return Ok(());
        }
        self.handler.handle(event, &mut tx, context).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Registers transactional handlers on a [`Runtime`].
pub trait TxRuntime {
    /// Registers `handler` for the messages of `topic`, in `group`, in transactions of
    /// `store` (see [`TxHandler`]). `T` is how a message is read: [`Json<E>`](Json) for a
    /// JSON event `E` (a payload that does not decode is dead-lettered at once), or
    /// [`Message`] for the raw message.
    fn handle_tx<T: Decode, H: TxHandler<T>>(
        &mut self,
        topic: impl Into<String>,
        group: impl Into<String>,
        store: &Store,
        handler: Arc<H>,
    ) -> &mut Self;
}

impl TxRuntime for Runtime {
    fn handle_tx<T: Decode, H: TxHandler<T>>(
        &mut self,
        topic: impl Into<String>,
        group: impl Into<String>,
        store: &Store,
        handler: Arc<H>,
    ) -> &mut Self {
        self.handle(
            topic,
            group,
            Transactional::<T, H>::new(store.clone(), handler),
        )
    }
}
