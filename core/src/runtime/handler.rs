//! What services implement: [`Handler`], its [`Context`] and [`HandlerError`].

use std::{future::Future, marker::PhantomData, sync::Arc};

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::{BoxError, Headers, Message, codec};

/// Why a handler failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (a timeout, a broker hiccup). Retried with backoff until the attempts
    /// run out, then dead-lettered.
    #[error("transient: {0}")]
    Transient(BoxError),
    /// Retrying cannot help (undecodable payload, a broken business rule). Dead-lettered at
    /// once.
    #[error("permanent: {0}")]
    Permanent(BoxError),
}

impl HandlerError {
    /// A transient error.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        Self::Transient(error.into())
    }

    /// A permanent error.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self::Permanent(error.into())
    }

    /// Whether it is transient.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// The error without its classification.
    pub fn reason(&self) -> String {
        match self {
            Self::Transient(e) | Self::Permanent(e) => e.to_string(),
        }
    }
}

impl From<crate::Error> for HandlerError {
    /// Retryable courier errors (a send that was not confirmed) are transient, the rest
    /// permanent.
    fn from(error: crate::Error) -> Self {
        if error.is_retryable() {
            Self::Transient(error.into())
        } else {
            Self::Permanent(error.into())
        }
    }
}

/// Where a message came from and which attempt this is.
#[derive(Clone, Debug)]
pub struct Context {
    /// The topic it was consumed from.
    pub topic: Arc<str>,
    /// The group the handler runs in.
    pub group: Arc<str>,
    /// 1 on the first attempt, counted across broker redeliveries.
    pub attempt: u32,
    /// The message's id.
    pub message_id: crate::MessageId,
    /// The message's key.
    pub key: Option<String>,
    /// The message's headers, shared by every attempt; `None` when it has none.
    pub(crate) headers: Option<Arc<Headers>>,
}

impl Context {
    /// The context of the first attempt at `message`, consumed from `topic` by `group`: what
    /// the runtime passes, and what a test of a handler can build.
    pub fn new(topic: &str, group: &str, message: &Message) -> Self {
        Self {
            topic: topic.into(),
            group: group.into(),
            attempt: 1,
            message_id: message.id.clone(),
            key: message.key.clone(),
            headers: shared_headers(message),
        }
    }

    /// The same context for attempt `attempt`.
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The message's headers (a correlation id, a trace context, courier's `courier-*`
    /// headers where the backend carries them).
    pub fn headers(&self) -> &Headers {
        static NONE: Headers = Headers::new();
        self.headers.as_deref().unwrap_or(&NONE)
    }

    /// One header of the message, by name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name).map(String::as_str)
    }
}

/// `message`'s headers behind one `Arc` for all the attempts, or `None` (no allocation) when
/// it has none.
pub(crate) fn shared_headers(message: &Message) -> Option<Arc<Headers>> {
    (!message.headers.is_empty()).then(|| Arc::new(message.headers.clone()))
}

/// Handles the messages of one subscription.
///
/// Returning `Ok` acks the message. Handlers must be idempotent: at-least-once delivery means
/// a message can arrive twice.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one message.
    ///
    /// # Errors
    /// [`HandlerError::Transient`] to have it retried, [`HandlerError::Permanent`] to have it
    /// dead-lettered at once.
    async fn handle(&self, message: &Message, context: &Context) -> Result<(), HandlerError>;
}

/// A [`Handler`] from an async function of the raw message.
pub struct FnHandler<F>(pub F);

#[async_trait]
impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Message, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    async fn handle(&self, message: &Message, context: &Context) -> Result<(), HandlerError> {
        (self.0)(message.clone(), context.clone()).await
    }
}

/// A [`Handler`] from an async function of a JSON-decoded event. A payload that does not
/// decode as `T` is a permanent error.
pub struct JsonHandler<T, F> {
    f: F,
    _event: PhantomData<fn() -> T>,
}

impl<T, F> JsonHandler<T, F> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self {
            f,
            _event: PhantomData,
        }
    }
}

#[async_trait]
impl<T, F, Fut> Handler for JsonHandler<T, F>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(T, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    async fn handle(&self, message: &Message, context: &Context) -> Result<(), HandlerError> {
        let event = codec::from_json::<T>(message).map_err(HandlerError::permanent)?;
        (self.f)(event, context.clone()).await
    }
}
