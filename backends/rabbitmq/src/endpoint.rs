//! Where and how to connect: the AMQP URI with its credentials, and the TLS files.

use std::{fmt, path::Path};

use courier_core::{Error, ErrorKind, Result, redact_url};
use lapin::{
    tcp::{OwnedIdentity, OwnedTLSConfig},
    uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo},
};

use crate::{BACKEND, RabbitMqConfig};

/// A resolved connection target. Its `Debug` shows the URL without password.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// The URI handed to lapin, credentials included.
    pub(crate) uri: AMQPUri,
    /// CA and client certificate for `amqps://`.
    pub(crate) tls: OwnedTLSConfig,
    /// The URL as configured, password replaced by `***`: for messages.
    pub(crate) display: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.display)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Resolves `config`: parses the URL, applies `password`/`password_file`, reads the TLS
    /// files.
    ///
    /// The host is taken as written (an IP address stays an IP address; lapin's own URL parser
    /// would replace it by `localhost`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the key at fault (never a password).
    pub(crate) fn resolve(config: &RabbitMqConfig) -> Result<Self> {
        config
            .validate()
            .map_err(|e| e.to_error(BACKEND, "broker.rabbitmq"))?;
        let display = redact_url(&config.url);
        let url = url::Url::parse(&config.url)
            .map_err(|e| config_error("url", &format!("is not a valid URL ({e}): {display}")))?;
        let scheme = match url.scheme() {
            "amqps" => AMQPScheme::AMQPS,
            _ => AMQPScheme::AMQP,
        };
        let decode = |key: &str, text: &str| {
            percent_decode(text)
                .ok_or_else(|| config_error(key, "has a user name or password that is not UTF-8"))
        };
        let username = match url.username() {
            "" => "guest".to_owned(),
            user => decode("url", user)?,
        };
        let password = if let Some(secret) = &config.password {
            secret.expose().to_owned()
        } else if let Some(path) = &config.password_file {
            read_password(path)?
        } else {
            match url.password() {
                Some(p) => decode("url", p)?,
                None => "guest".to_owned(),
            }
        };
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(match scheme {
            AMQPScheme::AMQP => 5672,
            AMQPScheme::AMQPS => 5671,
        });
        let vhost = match url.path() {
            "" => "/".to_owned(),
            path => decode("url", &path[1..])?,
        };
        let mut query = AMQPQueryString::default();
        for (name, value) in url.query_pairs() {
            let bad = || config_error("url", &format!("has a bad query parameter {name}={value}"));
            match &*name {
                "heartbeat" => query.heartbeat = Some(value.parse().map_err(|_| bad())?),
                "frame_max" => query.frame_max = Some(value.parse().map_err(|_| bad())?),
                "channel_max" => query.channel_max = Some(value.parse().map_err(|_| bad())?),
                "connection_timeout" => {
                    query.connection_timeout = Some(value.parse().map_err(|_| bad())?)
                }
                "auth_mechanism" => query.auth_mechanism = Some(value.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        let uri = AMQPUri {
            scheme,
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo { username, password },
                host,
                port,
            },
            vhost,
            query,
        };
        let tls = OwnedTLSConfig {
            cert_chain: match &config.tls_ca_file {
                Some(path) => Some(read_text("tls_ca_file", path)?),
                None => None,
            },
            identity: match (&config.tls_cert_file, &config.tls_key_file) {
                (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                    pem: read_text("tls_cert_file", cert)?.into_bytes(),
                    key: read_text("tls_key_file", key)?.into_bytes(),
                }),
                _ => None,
            },
        };
        Ok(Self { uri, tls, display })
    }
}

fn config_error(key: &str, problem: &str) -> Error {
    Error::new(
        BACKEND,
        ErrorKind::Config,
        format!("broker.rabbitmq.{key} {problem}"),
    )
}

fn read_text(key: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        config_error(
            key,
            &format!("names a file that cannot be read: {}: {e}", path.display()),
        )
    })
}

fn read_password(path: &Path) -> Result<String> {
    let text = read_text("password_file", path)?;
    Ok(text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t))
        .to_owned())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h)? * 16 + hex(l)?) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(url: &str) -> Endpoint {
        let config = RabbitMqConfig {
            url: url.into(),
            ..Default::default()
        };
        Endpoint::resolve(&config).expect("resolves")
    }

    #[test]
    fn keeps_ip_hosts_and_decodes_credentials_and_vhost() {
        let e = resolve("amqp://us%40er:p%3Ass@127.0.0.1:5673/my%2fvhost?heartbeat=5");
        assert_eq!(e.uri.authority.host, "127.0.0.1");
        assert_eq!(e.uri.authority.port, 5673);
        assert_eq!(e.uri.authority.userinfo.username, "us@er");
        assert_eq!(e.uri.authority.userinfo.password, "p:ss");
        assert_eq!(e.uri.vhost, "my/vhost");
        assert_eq!(e.uri.query.heartbeat, Some(5));
        assert!(!format!("{e:?}").contains("p%3Ass"));
    }

    #[test]
    fn defaults_and_ipv6() {
        let e = resolve("amqps://[::1]");
        assert_eq!(e.uri.authority.host, "::1");
        assert_eq!(e.uri.authority.port, 5671);
        assert_eq!(e.uri.scheme, AMQPScheme::AMQPS);
        assert_eq!(e.uri.vhost, "/");
        assert_eq!(e.uri.authority.userinfo.username, "guest");
        let e = resolve("amqp://h/");
        assert_eq!(e.uri.vhost, "");
    }

    #[test]
    fn password_overrides_the_url() {
        let dir = std::env::temp_dir().join(format!("courier-rmq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("password");
        std::fs::write(&file, "from-file\n").expect("write");
        let config = RabbitMqConfig {
            url: "amqp://u:in-url@h/".into(),
            password_file: Some(file),
            ..Default::default()
        };
        let e = Endpoint::resolve(&config).expect("resolves");
        assert_eq!(e.uri.authority.userinfo.password, "from-file");
        let config = RabbitMqConfig {
            url: "amqp://u:in-url@h/".into(),
            password: Some(courier_core::Secret::new("given")),
            ..Default::default()
        };
        let e = Endpoint::resolve(&config).expect("resolves");
        assert_eq!(e.uri.authority.userinfo.password, "given");
        let missing = RabbitMqConfig {
            password_file: Some(dir.join("absent")),
            ..Default::default()
        };
        let err = Endpoint::resolve(&missing).expect_err("unreadable");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("password_file"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_query_and_encoding_are_config_errors() {
        for url in [
            "amqp://h/?heartbeat=x",
            "amqp://h/?nope=1",
            "amqp://u:%ff@h/",
        ] {
            let config = RabbitMqConfig {
                url: url.into(),
                ..Default::default()
            };
            let err = Endpoint::resolve(&config).expect_err(url);
            assert_eq!(err.kind(), ErrorKind::Config, "{url}");
        }
    }
}
