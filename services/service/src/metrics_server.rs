//! [`serve_metrics`]: `GET /metrics`, `GET /healthz` and `GET /readyz` for a service without
//! an HTTP API of its own.

use std::net::SocketAddr;

use axum::{
    Json, Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use courier_core::{Health, METRICS_CONTENT_TYPE, Metrics};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Serves on `listen`, until `stop` is cancelled: `/metrics`, `metrics` in the OpenMetrics
/// text; `/healthz`, `ok` (the process serves); `/readyz`, `200` with a JSON body when
/// `health` says the broker connection is up and every subscription consumes, else `503`
/// with a JSON body naming what is not (see [`Readiness`](courier_core::Readiness)).
///
/// # Errors
/// When `listen` cannot be bound (in use, not a local address), naming the address.
///
/// # Cancel safety
/// Cancel safe: dropped before it returns, nothing is served.
pub async fn serve_metrics(
    listen: SocketAddr,
    metrics: Metrics,
    health: Health,
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
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = health.readiness();
                async move {
                    let status = StatusCode::from_u16(readiness.http_status())
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    (status, Json(readiness.to_json())).into_response()
                }
            }),
        );
    tracing::info!(%listen, "serving /metrics, /healthz and /readyz");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    }))
}
