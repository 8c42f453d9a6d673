//! Logging and trace export of a service binary.

use std::sync::OnceLock;

use courier_config::Telemetry;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// The exporter of this process, when `[telemetry]` sets an endpoint.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    init_tracing_at("info");
}

/// Logs to standard error, filtered by `RUST_LOG`, else by `default` (`warn`, `info`, ...).
pub fn init_tracing_at(default: &str) {
    tracing_subscriber::registry()
        .with(log_layer(default))
        .init();
}

/// Logs as [`init_tracing`] does and, when `telemetry` sets an OTLP endpoint, exports the
/// spans of this process there (in batches, from a thread of the exporter's own) as
/// `service` (the resource's `service.name`). Export is independent of `RUST_LOG`: every
/// span at `info` and above is exported. An endpoint that cannot be set up is logged, and
/// the process runs without export.
pub fn init_tracing_for(service: &str, telemetry: &Telemetry) {
    init_tracing_for_at(service, telemetry, "info");
}

/// As [`init_tracing_for`], with `default` as the log filter when `RUST_LOG` is unset (the
/// export still takes every span at `info` and above).
pub fn init_tracing_for_at(service: &str, telemetry: &Telemetry, default: &str) {
    let export = telemetry
        .traces_url()
        .and_then(|url| match provider(service, &url) {
            Ok(provider) => Some(provider),
            Err(e) => {
                eprintln!("warning: {service}: traces are not exported: {e}");
                None
            }
        });
    let otel = export.map(|provider| {
        let tracer = provider.tracer(service.to_owned());
        let _ = PROVIDER.set(provider);
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(LevelFilter::INFO)
    });
    tracing_subscriber::registry()
        .with(log_layer(default))
        .with(otel)
        .init();
    if let Some(url) = telemetry.traces_url() {
        tracing::info!(url = %courier_core::redact_url(&url), "exporting traces over OTLP/HTTP");
    }
}

/// Sends the spans not exported yet and stops the exporter: call it once, as the process
/// ends (an exit skips destructors). Waits for the export, at most the exporter's timeout.
pub fn flush_traces() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
        let _ = provider.shutdown();
    }
}

/// The standard-error log, filtered by `RUST_LOG`, else by `default`.
fn log_layer<S>(default: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter)
}

/// A tracer provider exporting to `url` in batches.
fn provider(service: &str, url: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}
