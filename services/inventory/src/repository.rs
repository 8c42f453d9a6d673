//! Stock levels and reservations per order, on SQL: every change is one conditional update
//! inside the service's transaction, so instances sharing a database never oversell.

use std::collections::HashMap;

use courier_contracts::{CatalogItem, OrderLine};
use courier_outbox::{AnyConnection, Migration, Row, StoreError};

/// The inventory service's tables (component `inventory`).
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "stock and reservations",
    "create table if not exists {prefix}_stock (
        sku text primary key,
        position bigint not null,
        available bigint not null check (available >= 0)
    );
    create table if not exists {prefix}_reservations (
        order_id text primary key,
        state text not null,
        lines text,
        reason text
    )",
)];

/// What the store remembers of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Its lines are held.
    Held(Vec<OrderLine>),
    /// It was refused; nothing was held.
    Rejected(String),
    /// Its lines were held, then given back (or it was released before it was seen).
    Released,
}

/// What [`reserve`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Every line is held. `fresh` is false when they were held before (a duplicate).
    Held {
        /// Whether this call moved the stock.
        fresh: bool,
    },
    /// Nothing is held. `fresh` is false when the order was refused before.
    Rejected {
        /// Why, for people.
        reason: String,
        /// Whether this call decided it.
        fresh: bool,
    },
    /// The order was released before; nothing is held again.
    Released,
}

/// What [`release`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// The held lines went back to stock.
    Now,
    /// Nothing to give back: released before, refused, or never seen (then it is remembered
    /// as released, so a late `OrderPlaced` holds nothing).
    Nothing,
}

/// Stock of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockLevel {
    /// The product.
    pub sku: String,
    /// Units free to reserve.
    pub available: u32,
}

/// Adds every product of `catalog` missing from the store, at its catalog stock. Products
/// already stored keep their level: the catalog is the initial stock, not the current one.
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn seed(
    conn: &mut AnyConnection,
    prefix: &str,
    catalog: &[CatalogItem],
) -> Result<(), StoreError> {
    let sql = format!(
        "insert into {prefix}_stock (sku, position, available) values ($1, $2, $3) on conflict (sku) do nothing"
    );
    for (position, item) in catalog.iter().enumerate() {
        courier_outbox::query(&sql)
            .bind(item.sku.clone())
            .bind(position as i64)
            .bind(i64::from(item.stock))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Holds every line of `order_id`, or none when any product is unknown or short. Each line
/// is one conditional update (`available >= n`); lines naming one product count together,
/// and products are taken in sorted order so concurrent reservations never deadlock.
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn reserve(
    conn: &mut AnyConnection,
    prefix: &str,
    order_id: &str,
    lines: &[OrderLine],
) -> Result<Reserved, StoreError> {
    match reservation(conn, prefix, order_id).await? {
        Some(Reservation::Held(_)) => return Ok(Reserved::Held { fresh: false }),
        Some(Reservation::Rejected(reason)) => {
            return Ok(Reserved::Rejected {
                reason,
                fresh: false,
            });
        }
        Some(Reservation::Released) => return Ok(Reserved::Released),
        None => {}
    }
    let mut wanted: HashMap<&str, i64> = HashMap::with_capacity(lines.len());
    for line in lines {
        *wanted.entry(&line.sku).or_default() += i64::from(line.quantity);
    }
    let mut wanted: Vec<(&str, i64)> = wanted.into_iter().collect();
    wanted.sort_unstable();
    let take = format!(
        "update {prefix}_stock set available = available - $2 where sku = $1 and available >= $2"
    );
    let mut taken: Vec<(&str, i64)> = Vec::with_capacity(wanted.len());
    let mut refusal = None;
    for (sku, quantity) in &wanted {
        let done = courier_outbox::query(&take)
            .bind(*sku)
            .bind(*quantity)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == 1 {
            taken.push((sku, *quantity));
        } else {
            refusal = Some(shortage(conn, prefix, sku, *quantity).await?);
            break;
        }
    }
    let lines_json =
        serde_json::to_string(lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let record = format!(
        "insert into {prefix}_reservations (order_id, state, lines, reason) values ($1, $2, $3, $4)"
    );
    let Some(reason) = refusal else {
        courier_outbox::query(&record)
            .bind(order_id)
            .bind("held")
            .bind(lines_json)
            .bind(None::<String>)
            .execute(&mut *conn)
            .await?;
        return Ok(Reserved::Held { fresh: true });
    };
    give_back(conn, prefix, &taken).await?;
    courier_outbox::query(&record)
        .bind(order_id)
        .bind("rejected")
        .bind(None::<String>)
        .bind(reason.clone())
        .execute(&mut *conn)
        .await?;
    Ok(Reserved::Rejected {
        reason,
        fresh: true,
    })
}

async fn shortage(
    conn: &mut AnyConnection,
    prefix: &str,
    sku: &str,
    quantity: i64,
) -> Result<String, StoreError> {
    let row = courier_outbox::query(&format!(
        "select available from {prefix}_stock where sku = $1"
    ))
    .bind(sku)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => format!("unknown sku {sku}"),
        Some(row) => {
            let available: i64 = row.try_get("available")?;
            format!("insufficient stock for sku {sku}: {quantity} wanted, {available} available")
        }
    })
}

async fn give_back(
    conn: &mut AnyConnection,
    prefix: &str,
    lines: &[(&str, i64)],
) -> Result<(), StoreError> {
    let sql = format!("update {prefix}_stock set available = available + $2 where sku = $1");
    for (sku, quantity) in lines {
        courier_outbox::query(&sql)
            .bind(*sku)
            .bind(*quantity)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Gives back what `order_id` holds, once: the reservation turns from held to released in
/// one conditional update, so a duplicate or a second instance gives back nothing.
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn release(
    conn: &mut AnyConnection,
    prefix: &str,
    order_id: &str,
) -> Result<Released, StoreError> {
    let row = courier_outbox::query(&format!(
        "update {prefix}_reservations set state = 'released' where order_id = $1 and state = 'held' returning lines"
    ))
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        // Refused, released before, or never seen: remember it as released if unknown.
        courier_outbox::query(&format!(
            "insert into {prefix}_reservations (order_id, state) values ($1, 'released') on conflict (order_id) do nothing"
        ))
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
        return Ok(Released::Nothing);
    };
    let lines = decode_lines(order_id, row.try_get("lines")?)?;
    let mut merged: HashMap<&str, i64> = HashMap::new();
    for line in &lines {
        *merged.entry(&line.sku).or_default() += i64::from(line.quantity);
    }
    let mut merged: Vec<(&str, i64)> = merged.into_iter().collect();
    merged.sort_unstable();
    give_back(conn, prefix, &merged).await?;
    Ok(Released::Now)
}

fn decode_lines(order_id: &str, lines: Option<String>) -> Result<Vec<OrderLine>, StoreError> {
    serde_json::from_str(lines.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError::Corrupt(format!("reservation {order_id}: {e}")))
}

/// What is remembered of `order_id`.
///
/// # Errors
/// [`StoreError`] when the database fails or the row cannot be read.
pub async fn reservation(
    conn: &mut AnyConnection,
    prefix: &str,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    let row = courier_outbox::query(&format!(
        "select state, lines, reason from {prefix}_reservations where order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let state: String = row.try_get("state")?;
    Ok(Some(match state.as_str() {
        "held" => Reservation::Held(decode_lines(order_id, row.try_get("lines")?)?),
        "rejected" => Reservation::Rejected(
            row.try_get::<Option<String>, _>("reason")?
                .unwrap_or_default(),
        ),
        "released" => Reservation::Released,
        other => {
            return Err(StoreError::Corrupt(format!(
                "reservation {order_id}: state {other:?}"
            )));
        }
    }))
}

/// Every product's free stock, in catalog order.
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn levels(conn: &mut AnyConnection, prefix: &str) -> Result<Vec<StockLevel>, StoreError> {
    let rows = courier_outbox::query(&format!(
        "select sku, available from {prefix}_stock order by position, sku"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let available: i64 = row.try_get("available")?;
            Ok(StockLevel {
                sku: row.try_get("sku")?,
                available: u32::try_from(available)
                    .map_err(|_| StoreError::Corrupt(format!("stock level {available}")))?,
            })
        })
        .collect()
}
