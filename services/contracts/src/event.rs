//! The [`Event`] trait: a versioned saga event, keyed by its order id.

use courier_core::{Message, codec};
use serde::{Serialize, de::DeserializeOwned};

use crate::ContractError;

/// The version of the events this build writes and reads.
pub const VERSION: u16 = 1;

/// The header that names the event type of a message (`OrderPlaced`, ...).
pub const EVENT_HEADER: &str = "courier-event";

/// A saga event: JSON with a `version` field, about one order.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The event's type name, such as `OrderPlaced`.
    const NAME: &'static str;

    /// The order the event is about; also the message key.
    fn order_id(&self) -> &str;

    /// The version the event was written with.
    fn version(&self) -> u16;

    /// The rules particular to this event (amounts, lines).
    ///
    /// # Errors
    /// The first rule the event breaks.
    fn check(&self) -> Result<(), ContractError>;

    /// Checks the version, the order id, then [`check`](Event::check).
    ///
    /// # Errors
    /// The first rule the event breaks.
    fn validate(&self) -> Result<(), ContractError> {
        if self.version() != VERSION {
            return Err(ContractError::UnsupportedVersion {
                event: Self::NAME,
                found: self.version(),
                supported: VERSION,
            });
        }
        if self.order_id().trim().is_empty() {
            return Err(ContractError::Missing("order_id"));
        }
        crate::check_id("order_id", self.order_id())?;
        self.check()
    }

    /// The event as a JSON message keyed by its order id. The message id is
    /// `<order id>/<event name>`, so a re-published event carries the id it had before and
    /// consumers can recognise the duplicate.
    ///
    /// # Errors
    /// [`courier_core::ErrorKind::Encode`] when the event cannot be serialised.
    fn to_message(&self) -> courier_core::Result<Message> {
        let order_id = self.order_id();
        Ok(codec::to_json(self)?
            .with_id(format!("{order_id}/{}", Self::NAME))
            .with_key(order_id)
            .with_header(EVENT_HEADER, Self::NAME))
    }
}

/// Sends `event` to `topic` as [`Event::to_message`] builds it.
///
/// # Errors
/// The producer's error (retryable when the broker did not confirm), or
/// [`courier_core::ErrorKind::Encode`].
pub async fn publish<E: Event>(
    producer: &dyn courier_core::Producer,
    topic: &str,
    event: &E,
) -> courier_core::Result<()> {
    producer.send(topic, event.to_message()?).await
}
