//! `order-service`: the order service on the broker the config file selects, with its HTTP
//! API on `[services.order] listen`.
//!
//! ```text
//! order-service [--config PATH]
//! ```
//!
//! Runs until SIGINT or SIGTERM, then stops taking requests and messages, finishes what is in
//! flight and flushes. A bad configuration exits with code 2 and one line on standard error.

use std::{process::ExitCode, sync::Arc, time::Duration};

use courier_core::Runtime;
use order_service::{MIGRATIONS, NEEDS, OrderService, STORE_PREFIX, http};
use tracing::info;

#[tokio::main]
async fn main() -> ExitCode {
    let (config, stop) =
        courier_service::boot("order-service", "The order service of the courier saga.");
    let store =
        courier_service::open_store(&config, "order-service", STORE_PREFIX, MIGRATIONS, &stop)
            .await;
    let broker = courier_service::connect(
        &config,
        "order-service",
        NEEDS,
        &shop::saga_config::saga_groups(&config),
        &stop,
    )
    .await;
    let listen = config.services.order.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: order-service: cannot listen on {listen} (services.order.listen): {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let o = &config.services.order;
    let limits = http::HttpLimits {
        max_body_bytes: o.max_body_bytes,
        header_timeout: Duration::from_millis(o.header_timeout_ms),
        request_timeout: Duration::from_millis(o.request_timeout_ms),
        max_connections: o.max_connections,
        max_requests_in_flight: o.max_requests_in_flight,
        shutdown_deadline: Duration::from_millis(config.runtime.shutdown_deadline_ms),
    };
    let service = Arc::new(
        OrderService::new(
            store.clone(),
            shop::saga_config::saga_topics(&config),
            Arc::new(shop::saga_config::catalog(&config)),
        )
        .with_max_lines(o.max_lines),
    );
    let deadline_ms = config.runtime.shutdown_deadline_ms;
    let signal = stop.clone();
    courier_service::run_service(
        "order-service",
        deadline_ms,
        broker.clone(),
        store,
        &signal,
        |metrics| async move {
            let mut runtime =
                Runtime::new(broker.clone(), config.runtime.clone()).with_metrics(metrics);
            service.register(&mut runtime);
            let router = http::router(
                service,
                runtime.metrics().clone(),
                runtime.health(),
                &limits,
            );
            let Some(running) = courier_service::start(runtime, &stop).await? else {
                return Ok(());
            };
            let http_stop = running.shutdown_token();
            let server = tokio::spawn(http::serve(
                listener,
                router,
                http_stop.clone().cancelled_owned(),
                limits,
            ));
            info!(%listen, backend = broker.name(), "order-service running");
            let stopped = running.run_until(stop.requested()).await;
            http_stop.cancel();
            match server.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP server stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "the HTTP server task failed"),
                Ok(Ok(())) => {}
            }
            stopped
        },
    )
    .await
}
