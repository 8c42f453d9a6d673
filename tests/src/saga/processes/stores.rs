//! What a [`Cluster`]'s services hold in their stores: the inventory's stock and the payment
//! gateway's charges, read directly from the stores the processes write.

use std::collections::{BTreeMap, BTreeSet};

use courier_outbox::{Store, StoreSettings};
use payment_service::{Charge, SimulatedGateway};

use super::cluster::Cluster;

impl Cluster {
    async fn open_store(
        &self,
        prefix: &str,
        migrations: &[courier_outbox::Migration],
    ) -> Result<Store, String> {
        Store::open(
            &self.store_url,
            prefix,
            migrations,
            StoreSettings::default(),
        )
        .await
        .map_err(|e| format!("opening the {prefix} store failed: {e}"))
    }

    /// Free stock per SKU, read from the inventory service's store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn stock(&self) -> Result<BTreeMap<String, i64>, String> {
        let store = self
            .open_store(
                inventory_service::STORE_PREFIX,
                inventory_service::MIGRATIONS,
            )
            .await?;
        let mut conn = store.pool().acquire().await.map_err(|e| e.to_string())?;
        let levels = inventory_service::repository::levels(&mut conn, store.prefix())
            .await
            .map_err(|e| e.to_string())?;
        drop(conn);
        store.close().await;
        Ok(levels
            .into_iter()
            .map(|l| (l.sku, i64::from(l.available)))
            .collect())
    }

    /// Every charge the payment service's gateway made, in order, read from its store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn charges(&self) -> Result<Vec<Charge>, String> {
        let store = self
            .payment_store
            .get_or_try_init(|| {
                self.open_store(payment_service::STORE_PREFIX, payment_service::MIGRATIONS)
            })
            .await?;
        SimulatedGateway::journal(store)
            .await
            .map_err(|e| format!("reading the gateway's charges failed: {e}"))
    }

    /// The approved charges by order id, and how many charges the gateway made in all.
    ///
    /// # Errors
    /// When the store cannot be read, or an order was charged twice.
    pub async fn approved_charges(&self) -> Result<(BTreeMap<String, i64>, usize), String> {
        let charges = self.charges().await?;
        let mut seen = BTreeSet::new();
        let mut approved = BTreeMap::new();
        for charge in &charges {
            if !seen.insert(charge.order_id.as_str()) {
                return Err(format!("order {} was charged twice", charge.order_id));
            }
            if charge.is_approved() {
                approved.insert(charge.order_id.clone(), charge.amount_minor);
            }
        }
        Ok((approved, charges.len()))
    }
}
