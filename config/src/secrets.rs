//! Keeping secrets out of errors and dumps: which keys hold secrets, the secret values of a
//! loaded configuration (to scrub them from messages), and redaction of serialised dumps.

use courier_core::redact_url;
use figment::value::Value;

/// Shown in place of a secret.
pub(crate) const REDACTED: &str = "***";

/// Whether a key holds a secret: a password, a secret, a token, a private key. Keys ending
/// in `_file` or `.location` name a file holding it, and are not secret themselves.
pub(crate) fn is_secret_key(key: &str) -> bool {
    const MARKERS: [&str; 7] = [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "private_key",
        "key.pem",
    ];
    let key = key.to_ascii_lowercase();
    if key.ends_with("_file") || key.ends_with(".location") {
        return false;
    }
    MARKERS.iter().any(|m| key.contains(m))
}

/// The password of a URL with credentials (`amqp://user:PASSWORD@host/`), as written.
pub(crate) fn url_password(text: &str) -> Option<&str> {
    let rest = &text[text.find("://")? + 3..];
    // Up to the last `@` before white space or a quote: a password may hold `/`, `?`, `#`
    // or `@`.
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(rest.len());
    let userinfo = &rest[..rest[..end].rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// The secret values found in loaded data, to be removed from any message.
#[derive(Debug, Default)]
pub(crate) struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The secrets in `root`: every value of a secret key and every password in a URL.
    pub(crate) fn collect(root: Option<&Value>) -> Self {
        let mut secrets = Self::default();
        if let Some(root) = root {
            secrets.walk(root, false);
        }
        secrets
            .values
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.values.dedup();
        secrets
    }

    fn walk(&mut self, value: &Value, secret: bool) {
        match value {
            Value::Dict(_, dict) => {
                for (key, value) in dict {
                    self.walk(value, secret || is_secret_key(key));
                }
            }
            Value::Array(_, items) => items.iter().for_each(|v| self.walk(v, secret)),
            Value::String(_, text) => {
                if secret {
                    self.add(text);
                }
                if let Some(password) = url_password(text) {
                    self.add(password);
                    if let Ok(decoded) = percent_decode(password) {
                        self.add(&decoded);
                    }
                }
            }
            other if secret => {
                if let Ok(text) = serde_json::to_string(other) {
                    self.add(text.trim_matches('"'));
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, value: &str) {
        if !value.trim().is_empty() && value != REDACTED {
            self.values.push(value.to_owned());
        }
    }

    /// `text` with every secret replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = redact_url(text);
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

fn percent_decode(text: &str) -> Result<String, ()> {
    if !text.contains('%') {
        return Err(());
    }
    let decoded = url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(())?;
    Ok(decoded)
}

/// Replaces secret values in a JSON tree by `***` and the passwords of URLs by `***`.
pub(crate) fn redact_json(value: &mut serde_json::Value, secret: bool) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                redact_json(value, secret || is_secret_key(key));
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secret)),
        serde_json::Value::Null => {}
        serde_json::Value::String(text) if !secret => *text = redact_url(text),
        other if secret => *other = serde_json::Value::from(REDACTED),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_secret_keys() {
        for key in [
            "password",
            "sasl.password",
            "ssl.key.password",
            "client_secret",
            "token",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "password_file",
            "url",
            "brokers",
            "ssl.keystore.location",
            "kind",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn finds_url_passwords() {
        assert_eq!(
            url_password("amqp://guest:s3cr%40t@h:5672/%2f"),
            Some("s3cr%40t")
        );
        assert_eq!(url_password("amqp://guest@h/"), None);
        assert_eq!(url_password("amqp://h:5672/"), None);
        assert_eq!(url_password("plain text"), None);
    }

    #[test]
    fn scrubs_collected_secrets() {
        let root: Value = figment::Figment::from(figment::providers::Serialized::defaults(
            serde_json::json!({
                "broker": { "rabbitmq": { "url": "amqp://u:p%40ss@h/", "password": "hunter22" },
                            "kafka": { "options": { "sasl.password": 4242 } } }
            }),
        ))
        .find_value("")
        .expect("value");
        let secrets = Secrets::collect(Some(&root));
        let text = secrets.scrub("hunter22 / p%40ss / p@ss / 4242 / amqp://x:y@h/");
        assert_eq!(text, "*** / *** / *** / *** / amqp://x:***@h/");
    }

    #[test]
    fn redacts_dumps() {
        let mut json = serde_json::json!({"url": "amqp://u:pw@h/", "password": "pw", "n": 1});
        redact_json(&mut json, false);
        assert_eq!(
            json,
            serde_json::json!({"url": "amqp://u:***@h/", "password": "***", "n": 1})
        );
    }
}
