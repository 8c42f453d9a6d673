//! Turning figment's extraction errors into one-line [`ConfigError`]s that name the key, its
//! origin and the valid choices, and never repeat a secret value.

use figment::error::{Actual, Kind};

use crate::{
    ConfigError,
    key::{self, Origins},
    secrets::{Secrets, is_secret_key},
};

/// The [`ConfigError`] for `error`, the first of figment's chain.
pub(crate) fn translate(
    error: figment::Error,
    origins: &Origins,
    secrets: &Secrets,
) -> ConfigError {
    let error = error
        .into_iter()
        .next()
        .unwrap_or_else(|| "invalid configuration".into());
    let mut path = error.path.clone();
    let secret = path.iter().any(|k| is_secret_key(k));
    let message = match &error.kind {
        Kind::UnknownField(field, expected) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            format!("unknown key `{field}`; valid keys: {}", list(expected))
        }
        Kind::UnknownVariant(found, expected) => {
            let what = if key::render(&path) == "broker.kind" {
                "backend"
            } else {
                "value"
            };
            let found = if secret {
                String::new()
            } else {
                format!(" {found:?}")
            };
            format!("unknown {what}{found}; valid choices: {}", list(expected))
        }
        Kind::MissingField(field) => {
            path.push(field.to_string());
            "missing key: it is required".to_owned()
        }
        Kind::DuplicateField(field) => {
            path.push((*field).to_owned());
            "key given more than once".to_owned()
        }
        Kind::InvalidType(found, expected) => format!(
            "wrong type: expected {}, found {}",
            expected_text(expected),
            shown(found, secret)
        ),
        Kind::InvalidValue(found, expected) => format!(
            "invalid value: expected {}, found {}",
            expected_text(expected),
            shown(found, secret)
        ),
        Kind::InvalidLength(length, expected) => {
            format!("wrong number of items ({length}): expected {expected}")
        }
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "number out of range".to_owned(),
        Kind::Message(_) if secret => {
            "invalid value (not shown: the key holds a secret)".to_owned()
        }
        other => other.to_string(),
    };
    let origin = origins.of(&path).or_else(|| {
        let metadata = error.metadata.as_ref()?;
        let profile = error.profile.clone().unwrap_or_default();
        Some(crate::source::render_origin(metadata, &profile, &path))
    });
    let key = (!path.is_empty()).then(|| key::render(&path));
    ConfigError::new(key, origin, message).map_message(|m| secrets.scrub(m))
}

/// serde's name of an expected type, in words (`u32` is a whole number of at least 0).
fn expected_text(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            format!("a whole number of at least 0 ({expected})")
        }
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => format!("a whole number ({expected})"),
        "f32" | "f64" => "a number".to_owned(),
        other => other.to_owned(),
    }
}

/// `a, b, c`.
fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// What was found: its type, and its value unless the key holds a secret.
fn shown(found: &Actual, secret: bool) -> String {
    let (kind, value) = match found {
        Actual::Bool(v) => ("a boolean", v.to_string()),
        Actual::Unsigned(v) => ("an integer", v.to_string()),
        Actual::Signed(v) => ("an integer", v.to_string()),
        Actual::Float(v) => ("a float", v.to_string()),
        Actual::Char(v) => ("a character", format!("{v:?}")),
        Actual::Str(v) => ("a string", format!("{v:?}")),
        Actual::Bytes(_) => return "bytes".to_owned(),
        Actual::Unit => return "nothing".to_owned(),
        Actual::Seq => return "an array".to_owned(),
        Actual::Map => return "a table".to_owned(),
        other => return other.to_string(),
    };
    if secret {
        kind.to_owned()
    } else {
        format!("{kind} {value}")
    }
}
