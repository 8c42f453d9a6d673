//! Keeping credentials out of logs, `Debug` output and errors.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A string that is never printed: `Debug` and `Display` show `***`, and serialising it
/// writes `***` too. Read it with [`expose`](Secret::expose) only where it is handed to a
/// client library.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// `url` with any password replaced by `***` (`amqp://guest:***@host/`). Text that does not
/// look like a URL with credentials is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    // The URL ends at white space or a quote (it may sit in a sentence). Up to its last `@`
    // is user information: a generated password may hold `/`, `?`, `#` or `@`, so the first
    // of those does not end it.
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or_default();
    let password_present = userinfo.contains(':');
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..scheme_end + 3]);
    out.push_str(user);
    if password_present {
        out.push_str(":***");
    }
    out.push_str(&rest[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "\"***\" ***");
        assert_eq!(serde_json::to_string(&s).expect("serialises"), "\"***\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("amqp://guest:hunter2@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqps://u:p@a@h/v?x=1"), "amqps://u:***@h/v?x=1");
        assert_eq!(redact_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(redact_url("amqp://user@host/"), "amqp://user@host/");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_url("store mysql://u:p/w@h/db: valid: postgres://u@h/db"),
            "store mysql://u:***@h/db: valid: postgres://u@h/db"
        );
        for password in ["p/ss", "p?ss", "p#ss", "p@ss", "a/b?c#d@e"] {
            let url = format!("postgres://user:{password}@db.example:5432/shop?sslmode=require");
            assert_eq!(
                redact_url(&url),
                "postgres://user:***@db.example:5432/shop?sslmode=require",
                "{url}"
            );
        }
    }
}
