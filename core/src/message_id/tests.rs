use std::{collections::HashSet, hash::BuildHasher};

use super::*;

#[test]
fn generated_ids_are_uuids_kept_as_bytes_and_sort_by_creation() {
    let a = MessageId::generate();
    let b = MessageId::generate();
    assert_eq!(a.len(), 36);
    assert_eq!(a.text().len(), 36);
    assert_eq!(Uuid::parse_str(&a.text()).ok(), a.uuid());
    assert!(matches!(a.0, Repr::Uuid(_)));
    assert!(a < b, "{a} !< {b}");
    assert!(a.text() < b.text(), "the texts sort as the ids");
}

#[test]
fn ids_made_on_many_threads_at_once_are_distinct() {
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..20_000).map(|_| MessageId::generate()).collect()))
        .collect();
    let mut all = HashSet::new();
    for thread in threads {
        let ids: Vec<MessageId> = thread.join().expect("thread");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ordered within a thread"
        );
        all.extend(ids);
    }
    assert_eq!(all.len(), 80_000);
}

#[test]
fn a_uuid_read_back_from_its_text_is_the_same_id() {
    let id = MessageId::generate();
    let text = id.text().to_string();
    let back = MessageId::from(text.as_str());
    assert!(matches!(back.0, Repr::Uuid(_)));
    assert_eq!(back, id);
    assert_eq!(MessageId::from(text.clone()), id);
    let state = std::hash::RandomState::new();
    assert_eq!(state.hash_one(&back), state.hash_one(&id));
    assert_eq!(id, text.as_str());
    assert_eq!(String::from(id), text);
}

#[test]
fn text_that_is_not_a_lowercase_hyphenated_uuid_stays_as_sent() {
    let lower = "0190b6f5-3c1e-7d4a-9f00-0123456789ab";
    let upper = lower.to_uppercase();
    let id = MessageId::from(upper.as_str());
    assert!(matches!(id.0, Repr::Shared(_)));
    assert_eq!(id.text(), upper.as_str());
    assert_ne!(id, MessageId::from(lower));
    let simple = lower.replace('-', "");
    assert_eq!(MessageId::from(simple.as_str()).text(), simple.as_str());
    let braced = format!("{{{lower}}}");
    assert_eq!(MessageId::from(braced.as_str()).text(), braced.as_str());
    // Mixed forms sort by their text.
    let mut ids = [
        MessageId::from("zzz"),
        MessageId::from(lower),
        MessageId::from(upper.as_str()),
    ];
    ids.sort();
    let texts: Vec<String> = ids.iter().map(String::from).collect();
    let mut sorted = texts.clone();
    sorted.sort();
    assert_eq!(texts, sorted);
}

#[test]
fn short_ids_live_inline_and_long_ones_are_shared() {
    let short = MessageId::from("x".repeat(INLINE));
    assert!(matches!(short.0, Repr::Inline { .. }));
    let long = MessageId::from("é".repeat(INLINE));
    assert!(matches!(long.0, Repr::Shared(_)));
    assert_eq!(long.text(), "é".repeat(INLINE).as_str());
    assert_eq!(long.len(), "é".repeat(INLINE).len());
    assert_eq!(long.clone(), long);
    assert_eq!(std::mem::size_of::<MessageId>(), 24);
}

#[test]
fn compares_and_prints_as_its_text() {
    let id = MessageId::from("order-1");
    assert_eq!(id, "order-1");
    assert_eq!("order-1", id);
    assert_eq!(id, String::from("order-1"));
    assert_eq!(id.to_string(), "order-1");
    assert_eq!(format!("{id:?}"), "\"order-1\"");
    let set: HashSet<MessageId> = [id.clone()].into();
    assert!(set.contains(&MessageId::from("order-1")));
    assert_eq!(String::from(id), "order-1");
    assert_eq!(MessageId::default(), "");
    assert!(MessageId::default().is_empty());
    assert!(!MessageId::generate().is_empty());
}
