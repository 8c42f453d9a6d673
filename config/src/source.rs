//! The sources merged into a configuration: a TOML text (a file, or a string in tests) and
//! the `COURIER_*` environment variables.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use figment::{
    Metadata, Profile, Provider, Source,
    providers::{Format, Toml},
    value::{Dict, Map, Value},
};

use crate::ConfigError;

/// Prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "COURIER_";
/// Separator of nested keys in those variables: `COURIER_BROKER__KIND`.
pub const ENV_SEPARATOR: &str = "__";
/// Name of the metadata of the environment source.
const ENV_METADATA: &str = "environment variable";

/// Renders the origin of the value at `path` from `metadata`: the file path, the name given
/// to a TOML string, or `environment variable COURIER_...`.
pub(crate) fn render_origin(metadata: &Metadata, profile: &Profile, path: &[String]) -> String {
    if metadata.name == ENV_METADATA {
        return format!("{ENV_METADATA} {}", metadata.interpolate(profile, path));
    }
    match &metadata.source {
        Some(Source::File(file)) => file.display().to_string(),
        Some(Source::Custom(name)) => name.clone(),
        _ => metadata.name.to_string(),
    }
}

/// A TOML document and the name it is reported under.
pub(crate) struct TomlSource {
    text: String,
    name: String,
    file: Option<PathBuf>,
}

impl TomlSource {
    /// Reads the file at `path`; `given_by` says who named it (for the not-found message).
    pub(crate) fn read(path: &Path, given_by: &str) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            let problem = match e.kind() {
                std::io::ErrorKind::NotFound => "file not found".to_owned(),
                _ => format!("cannot read the file: {e}"),
            };
            ConfigError::new(None, Some(name.clone()), format!("{problem} ({given_by})"))
        })?;
        Ok(Self {
            text,
            name,
            file: Some(path.to_owned()),
        })
    }

    /// `text`, reported as `name`.
    pub(crate) fn from_text(text: &str, name: &str) -> Self {
        Self {
            text: text.to_owned(),
            name: name.to_owned(),
            file: None,
        }
    }

    /// Checks that the text is TOML, naming the line and column of the first syntax error.
    ///
    /// The message of the TOML parser is kept without the excerpt of the document it quotes,
    /// so that no value (a password) is repeated.
    pub(crate) fn check_syntax(&self) -> Result<(), ConfigError> {
        let Err(error) = toml::from_str::<toml::Table>(&self.text) else {
            return Ok(());
        };
        let position = error.span().map(|span| {
            let before = &self.text[..span.start.min(self.text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}")
        });
        let message = error.message().trim().to_owned();
        let message = match position {
            Some(at) => format!("invalid TOML at {at}: {message}"),
            None => format!("invalid TOML: {message}"),
        };
        Err(ConfigError::new(None, Some(self.name.clone()), message))
    }
}

impl Provider for TomlSource {
    fn metadata(&self) -> Metadata {
        match &self.file {
            Some(file) => Metadata::from("TOML file", Source::File(file.clone())),
            None => Metadata::from("TOML", Source::Custom(self.name.clone())),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}

/// The `COURIER_*` variables that set keys: those with `__` after the prefix
/// (`COURIER_BROKER__KIND`). Others (`COURIER_CONFIG`) are not configuration keys.
pub(crate) struct EnvSource {
    vars: BTreeMap<Vec<String>, (String, String)>,
}

impl EnvSource {
    /// The configuration variables among `vars`.
    ///
    /// # Errors
    /// A variable with an empty segment (`COURIER_BROKER____KIND`).
    pub(crate) fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut keys = BTreeMap::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if !rest.contains(ENV_SEPARATOR) {
                continue;
            }
            let path: Vec<String> = rest
                .split(ENV_SEPARATOR)
                .map(str::to_ascii_lowercase)
                .collect();
            if path.iter().any(|s| s.trim().is_empty()) {
                return Err(ConfigError::new(
                    None,
                    Some(format!("{ENV_METADATA} {name}")),
                    "a key segment between `__` separators is empty",
                ));
            }
            keys.insert(path, (name, value));
        }
        Ok(Self { vars: keys })
    }

    /// The process environment's configuration variables.
    pub(crate) fn from_process() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            Some((k, v.to_string_lossy().into_owned()))
        }))
    }
}

/// The value of an environment variable: TOML-like text when it starts with `[`, `{` or `"`
/// (an array, a table, a quoted string), otherwise the text itself, which extraction turns
/// into a number or a boolean where the key wants one.
fn env_value(text: &str) -> Value {
    let trimmed = text.trim();
    if trimmed.starts_with(['[', '{', '"']) {
        let Ok(value) = trimmed.parse::<Value>();
        return value;
    }
    Value::from(text.to_owned())
}

/// Inserts `value` at `path` into `dict`, creating tables on the way.
fn insert(dict: &mut Dict, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut table = dict;
    for segment in parents {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| Value::from(Dict::new()));
        if entry.as_dict().is_none() {
            *entry = Value::from(Dict::new());
        }
        let Value::Dict(_, inner) = entry else {
            return;
        };
        table = inner;
    }
    table.insert(last.clone(), value);
}

impl Provider for EnvSource {
    fn metadata(&self) -> Metadata {
        let names: Arc<BTreeMap<Vec<String>, String>> = Arc::new(
            self.vars
                .iter()
                .map(|(path, (name, _))| (path.clone(), name.clone()))
                .collect(),
        );
        Metadata::named(ENV_METADATA).interpolater(move |_: &Profile, keys: &[&str]| {
            let path: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
            names.get(&path).cloned().unwrap_or_else(|| {
                let upper: Vec<String> = keys.iter().map(|k| k.to_ascii_uppercase()).collect();
                format!("{ENV_PREFIX}{}", upper.join(ENV_SEPARATOR))
            })
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (path, (_, value)) in &self.vars {
            insert(&mut dict, path, env_value(value));
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_keep_text_and_parse_brackets() {
        assert_eq!(env_value("12345").as_str(), Some("12345"));
        assert_eq!(env_value("amqp://u:p@h/").as_str(), Some("amqp://u:p@h/"));
        assert_eq!(env_value("\"quoted\"").as_str(), Some("quoted"));
        assert!(env_value("[\"a:1\", \"b:2\"]").as_array().is_some());
    }

    #[test]
    fn only_nested_prefixed_variables_are_keys() {
        let env = EnvSource::from_vars([
            ("COURIER_CONFIG".to_owned(), "x.toml".to_owned()),
            ("COURIER_REQUIRE_BROKERS".to_owned(), "1".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
            ("COURIER_BROKER__KIND".to_owned(), "kafka".to_owned()),
        ])
        .expect("valid");
        assert_eq!(env.vars.len(), 1);
        assert!(
            EnvSource::from_vars([("COURIER_BROKER____KIND".to_owned(), "x".to_owned())]).is_err()
        );
    }
}
