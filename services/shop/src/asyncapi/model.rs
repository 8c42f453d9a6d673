//! The parts of an AsyncAPI 3.0 document that the saga's description uses, serialised in
//! the order the specification lists them. Schemas and bindings stay JSON values.

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

/// The version of the AsyncAPI specification the document follows.
pub const ASYNCAPI_VERSION: &str = "3.0.0";

/// A map that keeps the order its entries were added in, with unique keys.
#[derive(Clone, Debug)]
pub struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Ordered<T> {
    /// Adds `value` under `key`.
    ///
    /// # Errors
    /// The key, when it is there already.
    pub fn insert(&mut self, key: impl Into<String>, value: T) -> Result<(), String> {
        let key = key.into();
        if self.get(&key).is_some() {
            return Err(key);
        }
        self.0.push((key, value));
        Ok(())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A `$ref` to another part of the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// The JSON pointer, such as `#/components/messages/OrderPlaced`.
    #[serde(rename = "$ref")]
    pub reference: String,
}

impl Reference {
    /// A reference to `pointer` (without the leading `#`), whose parts are escaped.
    pub fn to(parts: &[&str]) -> Self {
        let escaped: Vec<String> = parts
            .iter()
            .map(|p| p.replace('~', "~0").replace('/', "~1"))
            .collect();
        Self {
            reference: format!("#/{}", escaped.join("/")),
        }
    }
}

/// The whole document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// [`ASYNCAPI_VERSION`].
    pub asyncapi: &'static str,
    /// What the document describes.
    pub info: Info,
    /// The content type of every message that names none.
    pub default_content_type: &'static str,
    /// The brokers (none for the in-memory backend).
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub servers: Ordered<Server>,
    /// One channel per topic, per dead-letter topic and, on RabbitMQ, per group's queue.
    pub channels: Ordered<Channel>,
    /// What the services receive and send.
    pub operations: Ordered<Operation>,
    /// The messages and the schemas they refer to.
    pub components: Components,
}

/// The document's `info`.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    /// The title.
    pub title: String,
    /// The version of the application described.
    pub version: String,
    /// What it is, in CommonMark.
    pub description: String,
}

/// A broker the messages go through.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    /// `host[:port]`.
    pub host: String,
    /// `amqp`, `kafka`, ...
    pub protocol: String,
    /// The protocol's version, when it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The path on the host (a RabbitMQ virtual host), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathname: Option<String>,
    /// What it is.
    pub description: String,
}

/// A topic, a dead-letter topic or a queue.
#[derive(Clone, Debug, Serialize)]
pub struct Channel {
    /// Its name on the broker.
    pub address: String,
    /// What it carries and who reads it.
    pub description: String,
    /// The messages it carries, each a reference to `components/messages`.
    pub messages: Ordered<Reference>,
    /// The backend's bindings, when the backend has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Value>,
}

/// Whether the application sends or receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It sends to the channel.
    Send,
    /// It receives from the channel.
    Receive,
}

/// One service sending or receiving on one channel.
#[derive(Clone, Debug, Serialize)]
pub struct Operation {
    /// Send or receive.
    pub action: Action,
    /// The channel.
    pub channel: Reference,
    /// A short title.
    pub title: String,
    /// Who does it and what happens.
    pub description: String,
    /// The channel's messages it sends or receives.
    pub messages: Vec<Reference>,
    /// The backend's bindings, when the backend has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Value>,
}

/// `components`: the messages and the JSON Schemas.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Components {
    /// Payload and header schemas, by name.
    pub schemas: Ordered<Value>,
    /// Messages, by name.
    pub messages: Ordered<Message>,
}

/// A message: its headers, payload and examples.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// A machine-friendly name.
    pub name: String,
    /// A title.
    pub title: String,
    /// One line on what it says.
    pub summary: String,
    /// More on it.
    pub description: String,
    /// `application/json`.
    pub content_type: &'static str,
    /// The schema of the headers (an object).
    pub headers: Value,
    /// The schema of the payload.
    pub payload: Value,
    /// The backend's bindings, when the backend has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Value>,
    /// Examples.
    pub examples: Vec<MessageExample>,
}

/// An example of a message.
#[derive(Clone, Debug, Serialize)]
pub struct MessageExample {
    /// A short name.
    pub name: String,
    /// What it shows.
    pub summary: String,
    /// Its headers.
    pub headers: Value,
    /// Its payload.
    pub payload: Value,
}
