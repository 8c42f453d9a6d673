//! The saga's settings from the configuration: its topic names, the groups to declare, the
//! catalog; and [`connect_and_run`], the end of the inventory and payment binaries.

use courier_config::Config;
use courier_contracts::{Catalog, CatalogItem, SagaTopics};

/// The saga's topic names from `[topics]`.
pub fn saga_topics(config: &Config) -> SagaTopics {
    let t = &config.topics;
    SagaTopics {
        order_intake: t.order_intake.clone(),
        order_placed: t.order_placed.clone(),
        stock_reserved: t.stock_reserved.clone(),
        stock_rejected: t.stock_rejected.clone(),
        payment_succeeded: t.payment_succeeded.clone(),
        payment_failed: t.payment_failed.clone(),
    }
}

/// The catalog from `[[services.inventory.catalog]]`.
pub fn catalog(config: &Config) -> Catalog {
    Catalog::new(
        config
            .services
            .inventory
            .catalog
            .iter()
            .map(|i| CatalogItem {
                sku: i.sku.clone(),
                name: i.name.clone(),
                price_minor: i.price_minor,
                stock: i.stock,
            }),
    )
}

/// Every (topic, group) the saga uses, dead-letter routes included: what each service
/// declares at start-up, so that no event is lost whichever starts first.
pub fn saga_groups(config: &Config) -> Vec<(String, String)> {
    let topics = saga_topics(config);
    let routes = topics
        .routes()
        .map(|(topic, group)| (topic.to_owned(), group));
    routes
        .into_iter()
        .chain(topics.dead_letter_routes())
        .map(|(topic, group)| (topic, group.to_owned()))
        .collect()
}

/// The end of a saga service binary that only handles messages: connects the broker with
/// `needs` checked and every saga group declared, then runs the handlers `register` adds
/// until a signal, serving `/metrics` on `metrics_listen` when set.
pub async fn connect_and_run(
    service: &str,
    config: &Config,
    needs: &[courier_core::Capability],
    store: courier_outbox::Store,
    stop: courier_service::Stop,
    metrics_listen: Option<std::net::SocketAddr>,
    register: impl FnOnce(&mut courier_core::Runtime),
) -> std::process::ExitCode {
    let broker =
        courier_service::connect(config, service, needs, &saga_groups(config), &stop).await;
    courier_service::run_handlers(
        service,
        config,
        broker,
        store,
        stop,
        metrics_listen,
        register,
    )
    .await
}
