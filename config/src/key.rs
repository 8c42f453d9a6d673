//! Key paths (`broker.rabbitmq.url`, `services.inventory.catalog[2].sku`) and finding where a
//! key's value came from.

use figment::{Figment, Profile, value::Value};

use crate::source::render_origin;

/// Renders path segments as a dotted key: numeric segments (array positions) as `[i]`,
/// segments that contain a dot quoted (`broker.kafka.options."sasl.password"`).
pub(crate) fn render(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if !out.is_empty() && segment.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            if segment.contains('.') {
                out.push('"');
                out.push_str(segment);
                out.push('"');
            } else {
                out.push_str(segment);
            }
        }
    }
    out
}

/// Splits a dotted key into segments: `[i]` positions become segments, and a quoted segment
/// (`options."sasl.password"`) keeps its dots.
pub(crate) fn segments(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' | '[' | ']' if !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The value at `path` in `root`, descending through tables and arrays.
pub(crate) fn find<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |value, segment| match value {
        Value::Dict(_, dict) => dict.get(segment),
        Value::Array(_, items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The path in `root` that `path` means, where a table key may itself contain dots: a
/// backend reports `groups.orders.placed` for the key `"orders.placed"` of table `groups`.
/// `None` when nothing matches.
pub(crate) fn resolve(root: &Value, path: &[String]) -> Option<Vec<String>> {
    let Some(first) = path.first() else {
        return Some(Vec::new());
    };
    match root {
        Value::Dict(_, dict) => (1..=path.len()).find_map(|taken| {
            let key = path[..taken].join(".");
            let value = dict.get(&key)?;
            let mut rest = resolve(value, &path[taken..])?;
            rest.insert(0, key);
            Some(rest)
        }),
        Value::Array(_, items) => {
            let item = items.get(first.parse::<usize>().ok()?)?;
            let mut rest = resolve(item, &path[1..])?;
            rest.insert(0, first.clone());
            Some(rest)
        }
        _ => None,
    }
}

/// Where the configuration was merged from, to say which file or variable gave a key.
pub(crate) struct Origins {
    figment: Figment,
    merged: Option<Value>,
}

impl Origins {
    /// The origins of `figment`'s values.
    pub(crate) fn new(figment: Figment) -> Self {
        let merged = figment.find_value("").ok();
        Self { figment, merged }
    }

    /// No origins: a configuration built in code.
    pub(crate) fn none() -> Self {
        Self {
            figment: Figment::new(),
            merged: None,
        }
    }

    /// The merged data, when there is any.
    pub(crate) fn merged(&self) -> Option<&Value> {
        self.merged.as_ref()
    }

    /// Whether some source sets `path`.
    pub(crate) fn contains(&self, path: &[String]) -> bool {
        self.merged
            .as_ref()
            .is_some_and(|root| find(root, path).is_some())
    }

    /// `path` as the sources spell it (see [`resolve`]), or `path` itself.
    pub(crate) fn canonical(&self, path: Vec<String>) -> Vec<String> {
        self.merged
            .as_ref()
            .and_then(|root| resolve(root, &path))
            .unwrap_or(path)
    }

    /// Where the value at `path` came from (`config/x.toml`, `environment variable
    /// COURIER_BROKER__KIND`), or `None` for a built-in default.
    pub(crate) fn of(&self, path: &[String]) -> Option<String> {
        let value = find(self.merged.as_ref()?, path)?;
        let metadata = self.figment.get_metadata(value.tag())?;
        Some(render_origin(metadata, &Profile::Default, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_splits_array_positions() {
        let path = segments("services.inventory.catalog[2].sku");
        assert_eq!(path, ["services", "inventory", "catalog", "2", "sku"]);
        assert_eq!(render(&path), "services.inventory.catalog[2].sku");
        let path = segments("broker.kafka.options.\"sasl.password\"");
        assert_eq!(path, ["broker", "kafka", "options", "sasl.password"]);
        assert_eq!(render(&path), "broker.kafka.options.\"sasl.password\"");
    }

    #[test]
    fn resolves_keys_with_dots() {
        let root: Value = figment::Figment::from(figment::providers::Serialized::defaults(
            serde_json::json!({ "groups": { "orders.placed": ["a", ""] }, "list": [{ "x": 1 }] }),
        ))
        .find_value("")
        .expect("value");
        assert_eq!(
            resolve(&root, &segments("groups.orders.placed")),
            Some(vec!["groups".to_owned(), "orders.placed".to_owned()])
        );
        assert_eq!(
            resolve(&root, &segments("list[0].x")),
            Some(vec!["list".to_owned(), "0".to_owned(), "x".to_owned()])
        );
        assert_eq!(resolve(&root, &segments("groups.other")), None);
    }
}
