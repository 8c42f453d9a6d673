//! The HTTP API of the order service (axum):
//!
//! | route | answer |
//! |---|---|
//! | `POST /orders` | `202 {"order_id", "created", "status"}` once the order and its `OrderPlaced` are committed; `400 {"error"}` for bad input; an order without `order_id` takes the `Idempotency-Key` header as its id |
//! | `GET /orders/{id}` | `200 {"id", "status", "reason"?, ...}`; `404 {"error"}` |
//! | `GET /healthz` | `200 {"status": "ok"}` |
//! | `GET /metrics` | the runtime's counters, Prometheus text format |

use std::{future::Future, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use courier_contracts::OrderIntake;
use courier_core::Metrics;
use serde_json::json;
use tracing::warn;

use crate::{OrderService, PlaceError};

#[derive(Clone)]
struct AppState {
    service: Arc<OrderService>,
    metrics: Metrics,
}

/// The routes of the API, placing orders through `service` and rendering `metrics`.
pub fn router(service: Arc<OrderService>, metrics: Metrics) -> Router {
    Router::new()
        .route("/orders", post(place_order))
        .route("/orders/{id}", get(get_order))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(AppState { service, metrics })
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
///
/// # Errors
/// When accepting connections fails for good.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// The `Idempotency-Key` header: the id of an order whose body has none, so that a client's
/// retry is the same order.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

async fn place_order(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let intake: OrderIntake = match serde_json::from_slice(&body) {
        Ok(intake) => intake,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid order JSON: {e}")),
    };
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) if !key.trim().is_empty() => Some(key.trim().to_owned()),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the Idempotency-Key header must be non-empty visible ASCII",
            );
        }
    };
    match state.service.place(intake, idempotency_key).await {
        Ok(placed) => (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/orders/{}", placed.order_id))],
            Json(json!({
                "order_id": placed.order_id,
                "created": placed.created,
                "status": placed.status,
            })),
        )
            .into_response(),
        Err(PlaceError::Invalid(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => {
            warn!(error = %e, "placing an order failed");
            error(StatusCode::SERVICE_UNAVAILABLE, e)
        }
    }
}

async fn get_order(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.service.order(&id).await {
        Ok(Some(order)) => Json(order.view()).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("order {id} not found")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render_prometheus(),
    )
}
