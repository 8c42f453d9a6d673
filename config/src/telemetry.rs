//! The `[telemetry]` section: where the services export their traces.

use courier_core::{InvalidSetting, redact_url};
use serde::{Deserialize, Serialize};

/// `[telemetry]`: OpenTelemetry export. Off by default: with no endpoint nothing is
/// exported and no exporter runs. `Debug` hides a password in the endpoint.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Telemetry {
    /// The OTLP/HTTP endpoint of a collector (or any OTLP receiver), such as
    /// `http://127.0.0.1:4318`: spans are posted as protobuf to `<endpoint>/v1/traces`,
    /// with `service.name` set to the binary's name. Plain `http` only: put a local
    /// collector in front of a TLS endpoint. Default: unset (no export).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .finish()
    }
}

impl Telemetry {
    /// The URL spans are posted to: `<otlp_endpoint>/v1/traces`, when an endpoint is set.
    pub fn traces_url(&self) -> Option<String> {
        let endpoint = self.otlp_endpoint.as_deref()?;
        Some(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
    }

    /// Checks the endpoint.
    ///
    /// # Errors
    /// An endpoint that is not an `http://host[:port][/path]` URL, naming the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let Some(endpoint) = &self.otlp_endpoint else {
            return Ok(());
        };
        let invalid = |problem: String| InvalidSetting {
            key: "otlp_endpoint".into(),
            problem,
        };
        let url = url::Url::parse(endpoint).map_err(|e| {
            invalid(format!(
                "{:?} is not a URL ({e}); expected http://host:port, such as \
                 http://127.0.0.1:4318",
                redact_url(endpoint)
            ))
        })?;
        match url.scheme() {
            "http" if url.host().is_some() => Ok(()),
            "http" => Err(invalid("the URL has no host".into())),
            "https" => Err(invalid(
                "https is not supported for the OTLP export; send to a local collector over \
                 http (http://127.0.0.1:4318) and let it forward over TLS"
                    .into(),
            )),
            other => Err(invalid(format!(
                "scheme {other:?} is not supported; expected http (OTLP over HTTP with protobuf)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(endpoint: &str) -> Telemetry {
        Telemetry {
            otlp_endpoint: Some(endpoint.into()),
        }
    }

    #[test]
    fn endpoints_are_checked_and_the_traces_path_appended() {
        assert_eq!(Telemetry::default().validate(), Ok(()));
        assert_eq!(Telemetry::default().traces_url(), None);
        let ok = with("http://127.0.0.1:4318/");
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(
            ok.traces_url().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        for (bad, says) in [
            ("127.0.0.1:4318", "not a URL"),
            ("https://collector:4318", "https is not supported"),
            ("grpc://collector:4317", "not supported"),
        ] {
            let error = with(bad).validate().expect_err(bad);
            assert_eq!(error.key, "otlp_endpoint");
            assert!(error.problem.contains(says), "{bad}: {}", error.problem);
        }
    }

    #[test]
    fn debug_hides_a_password_in_the_endpoint() {
        let shown = format!("{:?}", with("http://user:hunter2@collector:4318"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
