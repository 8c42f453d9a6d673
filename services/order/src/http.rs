//! The HTTP API of the order service (axum):
//!
//! | route | answer |
//! |---|---|
//! | `POST /orders` | `202 {"order_id", "created", "status"}` once the order and its `OrderPlaced` are committed; `400 {"error"}` for bad input; an order without `order_id` takes the `Idempotency-Key` header as its id |
//! | `GET /orders/{id}` | `200 {"id", "status", "reason"?, ...}`; `404 {"error"}` |
//! | `GET /healthz` | `200 {"status": "ok"}`: the process serves (liveness) |
//! | `GET /readyz` | `200 {"ready": true, ...}` when the broker connection is up and every subscription consumes; `503 {"ready": false, "broker", "subscriptions"}` naming what is not (readiness, [`Health`]) |
//! | `GET /metrics` | the runtime's and the service's counters, OpenMetrics text |
//!
//! Every bad request gets a 4xx with a JSON `{"error": ...}` body; the limits of
//! [`HttpLimits`] bound bodies, header reads, request time, connections and requests in
//! flight.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Request, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use courier_contracts::{OrderIntake, check_id};
use courier_core::{
    Headers, Health, Metrics,
    trace::{self, spans},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use serde_json::json;
use tokio::sync::Semaphore;
use tracing::{Instrument, info, warn};

use crate::{OrderService, PlaceError, Placed};

/// What the HTTP server accepts, and how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// The largest request body, in bytes; larger: `413` with a JSON error.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers; then the connection closes.
    pub header_timeout: Duration,
    /// How long one request may take, body and commit included; then `503`.
    pub request_timeout: Duration,
    /// Open connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// Requests handled at once; more get `503` at once.
    pub max_requests_in_flight: usize,
    /// How long shutdown waits for open connections.
    pub shutdown_deadline: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 65_536,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_connections: 1_024,
            max_requests_in_flight: 256,
            shutdown_deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
struct AppState {
    service: Arc<OrderService>,
    metrics: Metrics,
    health: Health,
}

#[derive(Clone)]
struct Guard {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

/// The routes of the API, placing orders through `service`, rendering `metrics` and
/// answering readiness from `health` (the runtime's, [`Runtime::health`](courier_core::Runtime::health)),
/// within `limits`. Every error, including an unknown route and a body too large, is a JSON
/// `{"error": ...}`.
pub fn router(
    service: Arc<OrderService>,
    metrics: Metrics,
    health: Health,
    limits: &HttpLimits,
) -> Router {
    let guard = Guard {
        in_flight: Arc::new(Semaphore::new(limits.max_requests_in_flight)),
        timeout: limits.request_timeout,
    };
    Router::new()
        .route("/orders", post(place_order))
        .route("/orders/{id}", get(get_order))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .with_state(AppState {
            service,
            metrics,
            health,
        })
        .layer(middleware::from_fn_with_state(guard, guarded))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
}

/// Bounds the requests in flight and the time each may take.
async fn guarded(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let Ok(_permit) = guard.in_flight.try_acquire() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight; retry later",
        );
    };
    match tokio::time::timeout(guard.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than {} ms; retry it (an order with the same id is the same order)",
                guard.timeout.as_millis()
            ),
        ),
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections
/// finish for at most `limits.shutdown_deadline`. A client that does not send its headers
/// within `limits.header_timeout` is disconnected; at most `limits.max_connections` are
/// open at once.
///
/// # Errors
/// Never at present: a failed accept is logged and retried.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: HttpLimits,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let builder = builder.http1_only();
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("HTTP connections still open at the shutdown deadline are closed");
    }
    Ok(())
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// The `Idempotency-Key` header: the id of an order whose body has none, so that a client's
/// retry is the same order.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// [`place_in_span`] inside a `POST /orders` span, the root of the order's trace (or the
/// child of the caller's `traceparent`).
async fn place_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let span = spans::http_server("POST", "/orders");
    let carried: Headers = [trace::TRACEPARENT, trace::TRACESTATE]
        .into_iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect();
    trace::continue_from_headers(&span, &carried);
    let response = place_in_span(state, headers, body)
        .instrument(span.clone())
        .await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        spans::set_error(&span, status.canonical_reason().unwrap_or("server error"));
    }
    response
}

async fn place_in_span(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
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
        Ok(placed) => {
            spans::set_order_id(&tracing::Span::current(), &placed.order_id);
            if let Some(trace_id) = trace::current_trace_id() {
                info!(order_id = %placed.order_id, trace_id, "order placed");
            }
            placed_response(placed)
        }
        Err(PlaceError::Invalid(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => {
            warn!(error = %e, "placing an order failed");
            error(StatusCode::SERVICE_UNAVAILABLE, e)
        }
    }
}

/// `202 Accepted` with the order's location, id, whether it was new and its status.
fn placed_response(placed: Placed) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/orders/{}", placed.order_id))],
        Json(json!({
            "order_id": placed.order_id,
            "created": placed.created,
            "status": placed.status,
        })),
    )
        .into_response()
}

async fn get_order(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(e) = check_id("order_id", &id) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    match state.service.order(&id).await {
        Ok(Some(order)) => Json(order.view()).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("order {id} not found")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.health.readiness();
    let status =
        StatusCode::from_u16(readiness.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    (status, Json(readiness.to_json())).into_response()
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, courier_core::METRICS_CONTENT_TYPE)],
        state.metrics.render(),
    )
}
