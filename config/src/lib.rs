//! # courier-config
//!
//! The configuration of courier: the [`Config`] types, [`load`]ing them with figment
//! (built-in defaults, then a TOML file, then `COURIER_*` environment variables), validation
//! with one-line errors that name the key, the file and the valid choices, and [`connect`],
//! which opens the backend the configuration selects.
//!
//! ```no_run
//! # async fn demo() -> courier_core::Result<()> {
//! let config = courier_config::exit_on_error(courier_config::load(None));
//! let broker = courier_config::connect(&config).await?;
//! println!("running on {}", broker.name());
//! # Ok(())
//! # }
//! ```
//!
//! Each backend is compiled in by the cargo feature of its name (`memory`, `rabbitmq`,
//! `kafka`, `zeromq`; all on by default). Secrets (passwords in fields or URLs) never appear
//! in `Debug` output, errors or [`Config::redacted_toml`].

mod broker;
mod catalog;
mod config;
mod connect;
mod dump;
mod error;
mod figment_error;
mod key;
mod load;
mod needs;
mod secrets;
mod services;
mod source;
mod telemetry;
mod topics;
mod validate;

pub use broker::{BrokerKind, BrokerSection, CompiledOut};
pub use config::Config;
pub use connect::connect;
pub use courier_outbox::StoreSettings;
pub use error::{ConfigError, EXIT_CODE, exit_on_error, one_line};
pub use load::{CONFIG_ENV, DEFAULT_PATH, load, load_from_str, load_from_str_and_env};
pub use needs::check_needs;
pub use services::{
    CatalogItem, InventorySettings, OrderSettings, PaymentSettings, ServiceStore, Services,
};
pub use source::{ENV_PREFIX, ENV_SEPARATOR};
pub use telemetry::Telemetry;
pub use topics::Topics;
