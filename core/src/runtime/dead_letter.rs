//! Building the dead-letter copy of a message.

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
/// reason, the kind, the attempts, the original topic and the group.
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
    copy
}
