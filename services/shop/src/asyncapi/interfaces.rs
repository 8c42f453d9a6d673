//! What each service of the saga receives and sends, read from the code: the handlers its
//! `register` adds to a [`Runtime`], and the events it declares it publishes.

use std::sync::Arc;

use courier_config::Config;
use courier_core::{Error, ErrorKind, Result, Runtime};
use courier_memory::{MemoryBroker, MemoryConfig};
use courier_outbox::{Migration, Store};
use inventory_service::InventoryService;
use order_service::OrderService;
use payment_service::{PaymentService, SimulatedGateway};

use crate::saga_config;

/// One service's messaging interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInterface {
    /// The binary's name (`order-service`).
    pub name: &'static str,
    /// A short id for operation names (`order`).
    pub id: &'static str,
    /// The `(topic, group)` of every handler it registers, in registration order.
    pub subscriptions: Vec<(String, String)>,
    /// The events it publishes, by name.
    pub publishes: &'static [&'static str],
}

/// The interfaces of the order, inventory and payment services under `config`: each service
/// is built (on in-memory stores, nothing connected or started) and registers its handlers
/// on a runtime of its own, whose subscriptions are read back.
///
/// # Errors
/// When an in-memory store cannot be opened or seeded.
pub async fn interfaces(config: &Config) -> Result<Vec<ServiceInterface>> {
    let broker = Arc::new(MemoryBroker::new(MemoryConfig::default()));
    let topics = saga_config::saga_topics(config);
    let catalog = saga_config::catalog(config);
    let subscriptions = |register: &dyn Fn(&mut Runtime)| {
        let mut runtime = Runtime::new(broker.clone(), config.runtime.clone());
        register(&mut runtime);
        runtime
            .subscriptions()
            .map(|(topic, group)| (topic.to_owned(), group.to_owned()))
            .collect::<Vec<_>>()
    };

    let store = open(
        config,
        order_service::STORE_PREFIX,
        order_service::MIGRATIONS,
    )
    .await?;
    let order = Arc::new(OrderService::new(
        store.clone(),
        topics.clone(),
        Arc::new(catalog.clone()),
    ));
    let order_subscriptions = subscriptions(&|runtime| order.register(runtime));
    store.close().await;

    let store = open(
        config,
        inventory_service::STORE_PREFIX,
        inventory_service::MIGRATIONS,
    )
    .await?;
    let inventory = Arc::new(
        InventoryService::new(store.clone(), topics.clone(), catalog.items())
            .await
            .map_err(store_error)?,
    );
    let inventory_subscriptions = subscriptions(&|runtime| inventory.register(runtime));
    store.close().await;

    let store = open(
        config,
        payment_service::STORE_PREFIX,
        payment_service::MIGRATIONS,
    )
    .await?;
    let gateway = SimulatedGateway::new(config.services.payment.decline_above_minor);
    let payment = Arc::new(PaymentService::new(
        Arc::new(gateway),
        store.clone(),
        topics,
    ));
    let payment_subscriptions = subscriptions(&|runtime| payment.register(runtime));
    store.close().await;

    Ok(vec![
        ServiceInterface {
            name: "order-service",
            id: "order",
            subscriptions: order_subscriptions,
            publishes: order_service::PUBLISHES,
        },
        ServiceInterface {
            name: "inventory-service",
            id: "inventory",
            subscriptions: inventory_subscriptions,
            publishes: inventory_service::PUBLISHES,
        },
        ServiceInterface {
            name: "payment-service",
            id: "payment",
            subscriptions: payment_subscriptions,
            publishes: payment_service::PUBLISHES,
        },
    ])
}

async fn open(
    config: &Config,
    service: &'static str,
    migrations: &'static [Migration],
) -> Result<Store> {
    Store::open("sqlite::memory:", service, migrations, config.store.clone())
        .await
        .map_err(store_error)
}

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::new("store", ErrorKind::Config, e.to_string())
}
