//! Loading: built-in defaults, then the TOML file, then `COURIER_*` environment variables,
//! then validation.

use std::path::{Path, PathBuf};

use figment::Figment;

use crate::{
    Config, ConfigError,
    figment_error::translate,
    key::Origins,
    secrets::Secrets,
    source::{EnvSource, TomlSource},
    validate::validate,
};

/// The environment variable naming the config file when no path is given.
pub const CONFIG_ENV: &str = "COURIER_CONFIG";
/// The file read when neither a path nor `COURIER_CONFIG` is given, if it exists.
pub const DEFAULT_PATH: &str = "config/courier.toml";

/// Loads the configuration: the built-in defaults, then the TOML file, then the environment
/// (`COURIER_` prefix, `__` between nested keys: `COURIER_BROKER__KIND=kafka`,
/// `COURIER_BROKER__RABBITMQ__URL=...`), then checks it.
///
/// The file is `path` when given, else the file named by `COURIER_CONFIG`, else
/// `config/courier.toml` if it exists (else the defaults alone).
///
/// # Errors
/// A [`ConfigError`] naming the key, the file or variable, and the valid choices: a given
/// file that is missing, invalid TOML, an unknown key or backend, a wrong type, a value out of
/// range (see [`Config::validate`]).
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let file = match path {
        Some(path) => Some(TomlSource::read(path, "the file given")?),
        None => match std::env::var_os(CONFIG_ENV) {
            Some(path) if !path.is_empty() => Some(TomlSource::read(
                &PathBuf::from(path),
                &format!("named by {CONFIG_ENV}"),
            )?),
            _ => {
                let default = Path::new(DEFAULT_PATH);
                if default.is_file() {
                    Some(TomlSource::read(default, "the default config file")?)
                } else {
                    None
                }
            }
        },
    };
    build(file, EnvSource::from_process()?)
}

/// Loads the configuration from the TOML text `toml`, reported as `name` in errors, over the
/// built-in defaults, without reading the environment. For tests and embedded configs.
///
/// # Errors
/// As for [`load`].
pub fn load_from_str(toml: &str, name: &str) -> Result<Config, ConfigError> {
    build(
        Some(TomlSource::from_text(toml, name)),
        EnvSource::from_vars(None)?,
    )
}

/// Loads the configuration from the TOML text `toml` (reported as `name`) and then the given
/// environment variables, as if they were the process environment. For tests.
///
/// # Errors
/// As for [`load`].
pub fn load_from_str_and_env(
    toml: &str,
    name: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    build(
        Some(TomlSource::from_text(toml, name)),
        EnvSource::from_vars(env)?,
    )
}

/// Merges the sources, extracts and validates.
///
/// The file alone is extracted strictly first, so that a wrong type in it is an error; the
/// merge with the environment is then extracted leniently, since environment values are text
/// (`COURIER_RUNTIME__PREFETCH=64` is a number where a number is wanted, `12345` stays text
/// for a password).
fn build(file: Option<TomlSource>, env: EnvSource) -> Result<Config, ConfigError> {
    let mut figment = Figment::new();
    if let Some(file) = file {
        file.check_syntax()?;
        let alone = Figment::from(file);
        let origins = Origins::new(alone.clone());
        let secrets = Secrets::collect(origins.merged());
        alone
            .extract::<Config>()
            .map_err(|e| translate(e, &origins, &secrets))?;
        figment = alone;
    }
    let figment = figment.merge(env);
    let origins = Origins::new(figment.clone());
    let secrets = Secrets::collect(origins.merged());
    let config = figment
        .extract_lossy::<Config>()
        .map_err(|e| translate(e, &origins, &secrets))?;
    validate(&config, &origins, &secrets)?;
    Ok(config)
}
