//! Checks of what arrived against what was sent: exactly once, at least once, intact, in
//! per-key order.

use std::collections::BTreeMap;

use courier_core::{Headers, Message, MessageId};

use super::{
    failure::{Failure, TestResult, ensure, fail},
    members::Received,
};

/// Header the suite numbers its messages with (per key where keys matter).
pub(crate) const SEQ: &str = "suite-seq";

/// The headers of `message` that were not added by courier itself (`courier-*`).
pub(crate) fn user_headers(headers: &Headers) -> Headers {
    headers
        .iter()
        .filter(|(k, _)| !k.starts_with("courier-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `message`'s `suite-seq` header as a number.
pub(crate) fn seq_of(message: &Message) -> TestResult<u64> {
    message
        .header(SEQ)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Failure(format!(
                "message {} arrived without its {SEQ} header (headers: {:?})",
                message.id, message.headers
            ))
        })
}

/// Checks that every message of `expected` arrived exactly once, nothing else arrived, and
/// each arrived intact (payload, key and the headers it was sent with) from `topic`.
pub(crate) fn expect_exactly(
    expected: &[Message],
    got: &[Received],
    topic: &str,
    what: &str,
) -> TestResult {
    let duplicates = expect_all(expected, got, topic, what)?;
    ensure!(
        duplicates.is_empty(),
        "{what}: {} message(s) delivered more than once though nothing failed, e.g. {}",
        duplicates.len(),
        sample(&duplicates)
    );
    Ok(())
}

/// Like [`expect_exactly`] but tolerating duplicates (at-least-once); returns the ids that
/// arrived more than once.
pub(crate) fn expect_all(
    expected: &[Message],
    got: &[Received],
    topic: &str,
    what: &str,
) -> TestResult<Vec<String>> {
    let wanted: BTreeMap<&MessageId, &Message> = expected.iter().map(|m| (&m.id, m)).collect();
    let mut seen: BTreeMap<&MessageId, usize> = BTreeMap::new();
    for r in got {
        let Some(sent) = wanted.get(&r.message.id) else {
            fail!(
                "{what}: received message {} that was not sent to {topic} (from topic {})",
                r.message.id,
                r.topic
            );
        };
        ensure!(
            &*r.topic == topic,
            "{what}: delivery of {} names topic {:?}, expected {topic:?}",
            r.message.id,
            r.topic
        );
        intact(sent, &r.message, what)?;
        *seen.entry(&sent.id).or_default() += 1;
    }
    let missing: Vec<String> = wanted
        .keys()
        .filter(|id| !seen.contains_key(*id))
        .map(|id| id.to_string())
        .collect();
    ensure!(
        missing.is_empty(),
        "{what}: {} of {} messages never arrived, e.g. {}",
        missing.len(),
        expected.len(),
        sample(&missing)
    );
    Ok(seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.to_string())
        .collect())
}

/// Checks that `got` carries what `sent` did.
pub(crate) fn intact(sent: &Message, got: &Message, what: &str) -> TestResult {
    ensure!(
        got.payload == sent.payload,
        "{what}: payload of {} changed: sent {} bytes, received {} bytes{}",
        sent.id,
        sent.payload.len(),
        got.payload.len(),
        if got.payload.len() == sent.payload.len() {
            " (same length, other bytes)"
        } else {
            ""
        }
    );
    ensure!(
        got.key == sent.key,
        "{what}: key of {} changed: sent {:?}, received {:?}",
        sent.id,
        sent.key,
        got.key
    );
    let headers = user_headers(&got.headers);
    ensure!(
        headers == sent.headers,
        "{what}: headers of {} changed: sent {:?}, received {:?}",
        sent.id,
        sent.headers,
        headers
    );
    Ok(())
}

/// Up to five items, for failure messages.
pub(crate) fn sample(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    if items.len() > shown.len() {
        format!(
            "{} (and {} more)",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

/// Checks that, per key, the `suite-seq` numbers in `log` run 0, 1, 2, ... without gaps,
/// repeats or reordering, and that every key reached `per_key[key]` messages.
pub(crate) fn expect_per_key_order(
    log: &[Received],
    per_key: &BTreeMap<String, u64>,
    what: &str,
) -> TestResult {
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for r in log {
        let Some(key) = r.message.key.as_deref() else {
            fail!("{what}: message {} arrived without its key", r.message.id);
        };
        let seq = seq_of(&r.message)?;
        let expected = next.entry(key).or_default();
        ensure!(
            seq == *expected,
            "{what}: key {key}: expected message #{expected} next, got #{seq} (consumer {}, attempt {})",
            r.member,
            r.attempt
        );
        *expected += 1;
    }
    for (key, &count) in per_key {
        let got = next.get(key.as_str()).copied().unwrap_or(0);
        ensure!(
            got == count,
            "{what}: key {key}: {got} of {count} messages arrived"
        );
    }
    Ok(())
}
