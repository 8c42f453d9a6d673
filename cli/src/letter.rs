//! [`DeadLetter`]: what the dead-letter headers say about a message, and the message a
//! redrive sends back.

use std::time::{Duration, UNIX_EPOCH};

use courier_core::{Headers, Message, headers};
use serde::Serialize;

use crate::payload::Payload;

/// A dead letter as `dlq list` shows it: the message's id and key, and what the runtime
/// recorded when it dead-lettered it. A field is `None` when its header is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The message id.
    pub id: String,
    /// The message key.
    pub key: Option<String>,
    /// Why it was dead-lettered (the handler's error).
    pub reason: Option<String>,
    /// `permanent` or `exhausted`.
    pub kind: Option<String>,
    /// How many attempts were made.
    pub attempts: Option<u32>,
    /// The group whose handler gave up.
    pub group: Option<String>,
    /// The topic it was consumed from.
    pub topic: Option<String>,
    /// When it was dead-lettered, RFC 3339 in UTC.
    pub time: Option<String>,
}

impl DeadLetter {
    /// The dead letter `message`.
    pub fn of(message: &Message) -> Self {
        let header = |name: &str| message.header(name).map(str::to_owned);
        Self {
            id: message.id.to_string(),
            key: message.key.clone(),
            reason: header(headers::DLQ_REASON),
            kind: header(headers::DLQ_KIND),
            attempts: message
                .header(headers::DLQ_ATTEMPTS)
                .and_then(|v| v.trim().parse().ok()),
            group: header(headers::DLQ_GROUP),
            topic: header(headers::DLQ_TOPIC),
            time: message.header(headers::DLQ_AT).and_then(rfc3339_of_millis),
        }
    }
}

/// A dead letter as `dlq show` shows it: [`DeadLetter`] plus every header and the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShownLetter {
    /// What the dead-letter headers say.
    #[serde(flatten)]
    pub letter: DeadLetter,
    /// Every header, the dead-letter ones included.
    pub headers: Headers,
    /// The payload.
    pub payload: Payload,
}

impl ShownLetter {
    /// The dead letter `message`, in full.
    pub fn of(message: &Message) -> Self {
        Self {
            letter: DeadLetter::of(message),
            headers: message.headers.clone(),
            payload: Payload::of(&message.payload),
        }
    }
}

/// Where a redrive sends `message`: the topic it was consumed from (its
/// [`DLQ_TOPIC`](headers::DLQ_TOPIC) header), else `topic`.
pub fn origin(message: &Message, topic: &str) -> String {
    message
        .header(headers::DLQ_TOPIC)
        .filter(|t| !t.is_empty())
        .unwrap_or(topic)
        .to_owned()
}

/// The message a redrive sends: same id, key, payload and headers, less the dead-letter
/// headers and the attempt (so it starts again at attempt 1) and any mark of a requeue for
/// one group.
pub fn redriven(message: &Message) -> Message {
    let mut copy = message.clone();
    for name in headers::DLQ_HEADERS
        .iter()
        .chain([&headers::ATTEMPT, &headers::REQUEUED_FOR])
    {
        copy.headers.remove(*name);
    }
    copy
}

/// `millis` (since the Unix epoch, decimal) as RFC 3339 with milliseconds, in UTC.
fn rfc3339_of_millis(millis: &str) -> Option<String> {
    let millis: u64 = millis.trim().parse().ok()?;
    let at = UNIX_EPOCH.checked_add(Duration::from_millis(millis))?;
    // humantime formats years up to 9999 only.
    if at > UNIX_EPOCH + Duration::from_secs(253_402_300_799) {
        return None;
    }
    Some(humantime::format_rfc3339_millis(at).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead() -> Message {
        Message::new("body")
            .with_id("m-1")
            .with_key("k")
            .with_header("trace", "t")
            .with_header(headers::DLQ_REASON, "no such sku")
            .with_header(headers::DLQ_KIND, "permanent")
            .with_header(headers::DLQ_ATTEMPTS, "1")
            .with_header(headers::DLQ_TOPIC, "orders")
            .with_header(headers::DLQ_GROUP, "inventory")
            .with_header(headers::DLQ_AT, "1764758400123")
            .with_header(headers::ATTEMPT, "2")
            .with_header(headers::REQUEUED_FOR, "dead-letters")
    }

    #[test]
    fn the_headers_tell_the_story() {
        let letter = DeadLetter::of(&dead());
        assert_eq!(letter.id, "m-1");
        assert_eq!(letter.reason.as_deref(), Some("no such sku"));
        assert_eq!(letter.attempts, Some(1));
        assert_eq!(letter.time.as_deref(), Some("2025-12-03T10:40:00.123Z"));
        let bare = DeadLetter::of(&Message::new("x").with_header(headers::DLQ_AT, "soon"));
        assert_eq!((bare.reason, bare.time, bare.attempts), (None, None, None));
    }

    #[test]
    fn a_redriven_message_keeps_what_the_sender_set() {
        let message = dead();
        let copy = redriven(&message);
        assert_eq!(
            (&copy.id, &copy.key, &copy.payload),
            (&message.id, &message.key, &message.payload)
        );
        assert_eq!(copy.headers.len(), 1, "{:?}", copy.headers);
        assert_eq!(copy.header("trace"), Some("t"));
        assert_eq!(origin(&message, "elsewhere"), "orders");
        assert_eq!(origin(&copy, "elsewhere"), "elsewhere");
    }
}
