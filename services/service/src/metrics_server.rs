//! [`serve_metrics`]: `GET /metrics` and `GET /healthz` for a service without an HTTP API of
//! its own.

use std::net::SocketAddr;

use axum::{Router, http::header, response::IntoResponse, routing::get};
use courier_core::{METRICS_CONTENT_TYPE, Metrics};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Serves `metrics` on `listen` (`/metrics`, OpenMetrics text; `/healthz`, `ok`) until
/// `stop` is cancelled.
///
/// # Errors
/// When `listen` cannot be bound (in use, not a local address), naming the address.
pub async fn serve_metrics(
    listen: SocketAddr,
    metrics: Metrics,
    stop: CancellationToken,
) -> Result<JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot serve metrics on {listen}: {e}"))?;
    let router = Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response() }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    tracing::info!(%listen, "serving /metrics");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    }))
}
