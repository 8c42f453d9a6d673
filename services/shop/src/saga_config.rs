//! The saga's settings from the configuration: its topic names, the groups to declare, the
//! catalog.

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
