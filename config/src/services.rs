//! The `[services.*]` sections: settings of the order, inventory and payment services.

use courier_core::InvalidSetting;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use serde::{Deserialize, Deserializer, Serialize};

use crate::catalog::default_catalog;

/// Settings of every service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Services {
    /// `[services.order]`.
    pub order: OrderSettings,
    /// `[services.inventory]`.
    pub inventory: InventorySettings,
    /// `[services.payment]`.
    pub payment: PaymentSettings,
}

/// `[services.<name>.store]`: where one service keeps its state, overriding `[store] url`.
/// `Debug` hides the URL's password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceStore {
    /// The database of this service alone (same forms as `[store] url`). Default: unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl std::fmt::Debug for ServiceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceStore")
            .field("url", &self.url.as_deref().map(courier_core::redact_url))
            .finish()
    }
}

/// `[services.order]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderSettings {
    /// Address of the HTTP API (`POST /orders`, `GET /orders/{id}`): `IP:port`, or
    /// `host:port` with a host name resolved at load (`localhost:8080`). Default
    /// `127.0.0.1:8080`.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// The most lines an order may have. Default 100.
    pub max_lines: usize,
    /// The largest request body accepted, in bytes (larger: `413` with a JSON error).
    /// Default 65536.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers, in milliseconds; then the
    /// connection is closed. Default 5000.
    pub header_timeout_ms: u64,
    /// How long one request may take, body and the store's commit included, in
    /// milliseconds (then `503` with a JSON error). Default 10000.
    pub request_timeout_ms: u64,
    /// Open connections at most; more wait to be accepted. Default 1024.
    pub max_connections: usize,
    /// Requests handled at once; more get `503` at once. Default 256.
    pub max_requests_in_flight: usize,
    /// `[services.order.store]`.
    pub store: ServiceStore,
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            max_lines: 100,
            max_body_bytes: 65_536,
            header_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            max_connections: 1_024,
            max_requests_in_flight: 256,
            store: ServiceStore::default(),
        }
    }
}

/// `[services.inventory]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventorySettings {
    /// The products and their initial stock (`[[services.inventory.catalog]]`). A catalog in
    /// the file replaces the default one (SKUs `1001` to `1010`) as a whole.
    pub catalog: Vec<CatalogItem>,
    /// Where to serve `GET /metrics` and `GET /healthz` (`IP:port` or `host:port`).
    /// Default: unset, no HTTP server.
    #[serde(
        deserialize_with = "optional_listen_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub metrics_listen: Option<SocketAddr>,
    /// `[services.inventory.store]`.
    pub store: ServiceStore,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            catalog: default_catalog(),
            metrics_listen: None,
            store: ServiceStore::default(),
        }
    }
}

/// One product of the catalog. Every key is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogItem {
    /// Stock keeping unit, the product id of orders (`"1001"`).
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Unit price in integer minor units (cents): `1299` is 12.99.
    pub price_minor: i64,
    /// Units in stock at start-up.
    pub stock: u32,
}

/// `[services.payment]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// The simulated gateway declines a charge above this amount, in minor units. Default
    /// `50000` (500.00).
    pub decline_above_minor: i64,
    /// Where to serve `GET /metrics` and `GET /healthz` (`IP:port` or `host:port`).
    /// Default: unset, no HTTP server.
    #[serde(
        deserialize_with = "optional_listen_address",
        skip_serializing_if = "Option::is_none"
    )]
    pub metrics_listen: Option<SocketAddr>,
    /// `[services.payment.store]`.
    pub store: ServiceStore,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            decline_above_minor: 50_000,
            metrics_listen: None,
            store: ServiceStore::default(),
        }
    }
}

impl Services {
    /// The `[services.<name>.store]` of `service` (`order`, `inventory` or `payment`).
    pub fn store(&self, service: &str) -> Option<&ServiceStore> {
        match service {
            "order" => Some(&self.order.store),
            "inventory" => Some(&self.inventory.store),
            "payment" => Some(&self.payment.store),
            _ => None,
        }
    }

    /// The first bad setting, as `(key within [services], problem)`: an empty or duplicate
    /// SKU, an empty name, a negative price, a negative decline threshold.
    ///
    /// # Errors
    /// The first bad setting found.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let catalog = &self.inventory.catalog;
        for (i, item) in catalog.iter().enumerate() {
            let key = |field: &str| format!("inventory.catalog[{i}].{field}");
            if item.sku.trim().is_empty() {
                return Err(InvalidSetting::new(key("sku"), "the SKU is empty"));
            }
            if let Some(first) = catalog[..i].iter().position(|o| o.sku == item.sku) {
                return Err(InvalidSetting::new(
                    key("sku"),
                    format!(
                        "duplicate SKU {:?}: already listed at services.inventory.catalog[{first}]",
                        item.sku
                    ),
                ));
            }
            if item.name.trim().is_empty() {
                return Err(InvalidSetting::new(key("name"), "the name is empty"));
            }
            if item.price_minor < 0 {
                return Err(InvalidSetting::new(
                    key("price_minor"),
                    format!("the price must not be negative (got {})", item.price_minor),
                ));
            }
        }
        let o = &self.order;
        for (key, value) in [
            ("order.max_lines", o.max_lines as u64),
            ("order.max_body_bytes", o.max_body_bytes as u64),
            ("order.header_timeout_ms", o.header_timeout_ms),
            ("order.request_timeout_ms", o.request_timeout_ms),
            ("order.max_connections", o.max_connections as u64),
            (
                "order.max_requests_in_flight",
                o.max_requests_in_flight as u64,
            ),
        ] {
            if value == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1"));
            }
        }
        for (name, store) in [
            ("order", &self.order.store),
            ("inventory", &self.inventory.store),
            ("payment", &self.payment.store),
        ] {
            if let Some(url) = &store.url {
                if let Err(e) = courier_outbox::dialect_of(url) {
                    return Err(InvalidSetting::new(
                        format!("{name}.store.url"),
                        e.to_string(),
                    ));
                }
            }
        }
        if self.payment.decline_above_minor < 0 {
            return Err(InvalidSetting::new(
                "payment.decline_above_minor",
                "must not be negative",
            ));
        }
        Ok(())
    }
}

/// Reads a listen address: `IP:port`, or `host:port` resolved now (its first address).
fn listen_address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    resolve(String::deserialize(deserializer)?)
}

/// [`listen_address`] for a key that may be left out.
fn optional_listen_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    resolve(String::deserialize(deserializer)?).map(Some)
}

fn resolve<E: serde::de::Error>(text: String) -> Result<SocketAddr, E> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let resolved = text.to_socket_addrs().map_err(|e| {
        E::custom(format!(
            "`{text}` is not IP:port (127.0.0.1:8080, [::1]:8080) nor host:port that resolves \
             (localhost:8080): {e}"
        ))
    })?;
    let mut resolved: Vec<SocketAddr> = resolved.collect();
    // Prefer IPv4, as most clients try `localhost` on 127.0.0.1 first.
    resolved.sort_by_key(|a| !a.is_ipv4());
    resolved
        .into_iter()
        .next()
        .ok_or_else(|| E::custom(format!("`{text}` resolves to no address")))
}
