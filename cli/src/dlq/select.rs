//! Which dead letters a command acts on: [`Selection::matches`].

use courier_core::{Message, headers};

use crate::args::Selection;

impl Selection {
    /// Whether `message` passes every filter given (all do when none is given).
    pub fn matches(&self, message: &Message) -> bool {
        let id_ok = self.ids.is_empty() || self.ids.iter().any(|id| message.id == id.as_str());
        let reason_ok = self.reason_contains.as_deref().is_none_or(|text| {
            message
                .header(headers::DLQ_REASON)
                .is_some_and(|reason| reason.contains(text))
        });
        id_ok && reason_ok
    }

    /// The ids asked for with `--id` that none of `found` has.
    pub fn missing<'a>(&'a self, found: &[&Message]) -> Vec<&'a str> {
        self.ids
            .iter()
            .filter(|id| !found.iter().any(|m| m.id == id.as_str()))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_combine() {
        let poison = Message::new("x")
            .with_id("a")
            .with_header(headers::DLQ_REASON, "poison pill");
        let other = Message::new("y").with_id("b");
        assert!(Selection::default().matches(&other));
        let by_reason = Selection {
            reason_contains: Some("poison".into()),
            ..Selection::default()
        };
        assert!(by_reason.matches(&poison) && !by_reason.matches(&other));
        let by_id = Selection {
            ids: vec!["b".into(), "c".into()],
            reason_contains: None,
        };
        assert!(!by_id.matches(&poison) && by_id.matches(&other));
        assert_eq!(by_id.missing(&[&other]), vec!["c"]);
        let both = Selection {
            reason_contains: Some("poison".into()),
            ..by_id
        };
        assert!(!both.matches(&other));
    }
}
