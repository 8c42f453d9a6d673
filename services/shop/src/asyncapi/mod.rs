//! The saga's AsyncAPI 3.0 document, as `shop asyncapi` prints it.
//!
//! Generated from the code and the configuration, never written by hand:
//!
//! * **channels**: one per topic of `[topics]`, carrying the message its contract names
//!   ([`SagaTopics::contracts`](courier_contracts::SagaTopics::contracts)); one per
//!   dead-letter topic `<topic>.dlq`; on RabbitMQ one per group's queue;
//! * **operations**: a `receive` per handler each service registers on its runtime (read
//!   back with [`Runtime::subscriptions`](courier_core::Runtime::subscriptions)), a `send` per
//!   event a service declares it publishes (`PUBLISHES`), and the runtime's dead-letter sends;
//! * **messages**: payload schemas derived with `schemars`, the `courier-*` headers, and
//!   examples built from real values;
//! * the configured backend's **servers** and **bindings** (AMQP, Kafka; none exist for
//!   ZeroMQ or the in-memory queue, which the document says).
//!
//! ```no_run
//! # async fn demo() -> courier_core::Result<()> {
//! let config = courier_config::load(None)?;
//! let document = shop::asyncapi::generate(&config).await?;
//! println!("{}", shop::asyncapi::Format::Yaml.render(&document)?);
//! # Ok(())
//! # }
//! ```

mod bindings;
mod document;
mod headers;
mod interfaces;
mod model;

use std::{fmt, str::FromStr};

use courier_config::Config;
use courier_core::{Error, ErrorKind, Result};

pub use document::build;
pub use interfaces::{ServiceInterface, interfaces};
pub use model::{ASYNCAPI_VERSION, Document};

/// The document for `config`: the services' [`interfaces`] put together by [`build`].
///
/// # Errors
/// As for [`interfaces`] and [`build`].
pub async fn generate(config: &Config) -> Result<Document> {
    let services = interfaces(config).await?;
    build(config, &services)
}

/// How the document is written out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// YAML, as committed in `docs/asyncapi.yaml`.
    #[default]
    Yaml,
    /// JSON, indented.
    Json,
}

impl Format {
    /// `document` in this format, ending with a newline.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`] when the document cannot be serialised (it always can).
    pub fn render(self, document: &Document) -> Result<String> {
        let text = match self {
            Self::Yaml => serde_norway::to_string(document).map_err(encode)?,
            Self::Json => serde_json::to_string_pretty(document).map_err(encode)? + "\n",
        };
        Ok(text)
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "yaml" | "yml" => Ok(Self::Yaml),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format {other:?}: json or yaml")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yaml => "yaml",
            Self::Json => "json",
        })
    }
}

fn encode(e: impl fmt::Display) -> Error {
    Error::new("asyncapi", ErrorKind::Encode, e.to_string())
}
