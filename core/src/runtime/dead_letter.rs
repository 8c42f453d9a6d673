//! Building the dead-letter copy of a message.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Message, headers};

/// Why a message is dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeadLetterKind {
    /// The handler said retrying cannot help.
    Permanent,
    /// The attempts ran out.
    Exhausted,
}

impl DeadLetterKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Exhausted => "exhausted",
        }
    }
}

/// The copy of `message` for `<topic>.dlq`: same id, key and payload, its headers plus the
/// reason, the kind, the attempts, the original topic, the group and the time.
pub(crate) fn dead_letter_message(
    message: &Message,
    topic: &str,
    group: &str,
    attempts: u32,
    kind: DeadLetterKind,
    reason: &str,
) -> Message {
    let mut copy = message.clone();
    copy.headers.remove(headers::ATTEMPT);
    copy.headers
        .insert(headers::DLQ_REASON.into(), reason.into());
    copy.headers
        .insert(headers::DLQ_KIND.into(), kind.as_str().into());
    copy.headers
        .insert(headers::DLQ_ATTEMPTS.into(), attempts.to_string());
    copy.headers.insert(headers::DLQ_TOPIC.into(), topic.into());
    copy.headers.insert(headers::DLQ_GROUP.into(), group.into());
    copy.headers
        .insert(headers::DLQ_AT.into(), unix_millis(SystemTime::now()));
    copy
}

/// `at` in milliseconds since the Unix epoch, as a decimal (0 for a time before it).
fn unix_millis(at: SystemTime) -> String {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_names_why_where_and_when() {
        let before = SystemTime::now();
        let message = Message::new("x")
            .with_key("k")
            .with_header(headers::ATTEMPT, "3")
            .with_header("trace", "t");
        let copy = dead_letter_message(
            &message,
            "orders",
            "billing",
            3,
            DeadLetterKind::Exhausted,
            "boom",
        );
        assert_eq!((&copy.id, copy.key.as_deref()), (&message.id, Some("k")));
        assert_eq!(copy.header(headers::ATTEMPT), None);
        assert_eq!(copy.header("trace"), Some("t"));
        assert_eq!(copy.header(headers::DLQ_KIND), Some("exhausted"));
        assert_eq!(copy.header(headers::DLQ_TOPIC), Some("orders"));
        let at: u128 = copy
            .header(headers::DLQ_AT)
            .and_then(|v| v.parse().ok())
            .expect("a decimal time");
        let since = before
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        assert!(at >= since && at < since + 60_000, "{at} vs {since}");
        for name in headers::DLQ_HEADERS {
            assert!(copy.header(name).is_some(), "{name} is set");
        }
    }
}
