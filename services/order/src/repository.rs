//! The order table: orders stored and settled inside the service's transactions.

use courier_contracts::OrderLine;
use courier_outbox::{AnyConnection, AnyRow, Migration, Row, StoreError};

use crate::{CancelCause, Order, OrderStatus};

/// The order service's tables (component `order`).
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "orders",
    "create table if not exists {prefix}_orders (
        id text primary key,
        customer_id text,
        lines text not null,
        total_minor bigint not null,
        status text not null,
        cause text,
        reason text,
        payment_id text,
        created_us bigint not null
    )",
)];

/// What [`insert_if_absent`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// The order is new and was stored.
    New,
    /// An order with this id exists already; it is returned unchanged.
    Existing(Order),
}

/// What [`settle`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The order was pending and is now settled; the order after the change.
    Now(Order),
    /// The order was settled before and was left as it was.
    Already(Order),
    /// No order has this id.
    Unknown,
}

const COLUMNS: &str = "id, customer_id, lines, total_minor, status, cause, reason, payment_id";

fn table(conn_prefix: &str) -> String {
    format!("{conn_prefix}_orders")
}

/// Stores `order` unless one with its id exists (concurrent inserts of one id: one wins).
///
/// # Errors
/// [`StoreError`] when the database fails.
pub async fn insert_if_absent(
    conn: &mut AnyConnection,
    prefix: &str,
    order: &Order,
) -> Result<Inserted, StoreError> {
    let lines =
        serde_json::to_string(&order.lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (status, cause, reason, payment_id) = status_columns(&order.status);
    let sql = format!(
        "insert into {} ({COLUMNS}, created_us) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (id) do nothing",
        table(prefix)
    );
    let done = courier_outbox::query(&sql)
        .bind(order.id.clone())
        .bind(order.customer_id.clone())
        .bind(lines)
        .bind(order.total_minor)
        .bind(status)
        .bind(cause)
        .bind(reason)
        .bind(payment_id)
        .bind(courier_outbox::now_us())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(Inserted::New);
    }
    match get(conn, prefix, &order.id).await? {
        Some(existing) => Ok(Inserted::Existing(existing)),
        None => Err(StoreError::Corrupt(format!(
            "order {} neither inserted nor found",
            order.id
        ))),
    }
}

/// The order `id`.
///
/// # Errors
/// [`StoreError`] when the database fails or the row cannot be read.
pub async fn get(
    conn: &mut AnyConnection,
    prefix: &str,
    id: &str,
) -> Result<Option<Order>, StoreError> {
    let sql = format!("select {COLUMNS} from {} where id = $1", table(prefix));
    let row = courier_outbox::query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Every order, by id.
///
/// # Errors
/// As for [`get`].
pub async fn all(conn: &mut AnyConnection, prefix: &str) -> Result<Vec<Order>, StoreError> {
    let sql = format!("select {COLUMNS} from {} order by id", table(prefix));
    let rows = courier_outbox::query(&sql).fetch_all(conn).await?;
    rows.iter().map(decode).collect()
}

/// Moves order `id` from pending to `status`; a settled order is never changed.
///
/// # Errors
/// As for [`get`].
pub async fn settle(
    conn: &mut AnyConnection,
    prefix: &str,
    id: &str,
    status: &OrderStatus,
) -> Result<Settled, StoreError> {
    let (name, cause, reason, payment_id) = status_columns(status);
    let sql = format!(
        "update {} set status = $2, cause = $3, reason = $4, payment_id = $5 \
         where id = $1 and status = 'pending' returning {COLUMNS}",
        table(prefix)
    );
    let updated = courier_outbox::query(&sql)
        .bind(id)
        .bind(name)
        .bind(cause)
        .bind(reason)
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = updated {
        return Ok(Settled::Now(decode(&row)?));
    }
    Ok(match get(conn, prefix, id).await? {
        Some(order) => Settled::Already(order),
        None => Settled::Unknown,
    })
}

type StatusColumns = (
    &'static str,
    Option<&'static str>,
    Option<String>,
    Option<String>,
);

fn status_columns(status: &OrderStatus) -> StatusColumns {
    match status {
        OrderStatus::Pending => ("pending", None, None, None),
        OrderStatus::Confirmed { payment_id } => {
            ("confirmed", None, None, Some(payment_id.clone()))
        }
        OrderStatus::Cancelled { cause, reason } => (
            "cancelled",
            Some(match cause {
                CancelCause::Stock => "stock",
                CancelCause::Payment => "payment",
            }),
            Some(reason.clone()),
            None,
        ),
    }
}

fn decode(row: &AnyRow) -> Result<Order, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("order {id}: {what}"));
    let lines: String = row.try_get("lines")?;
    let lines: Vec<OrderLine> =
        serde_json::from_str(&lines).map_err(|e| corrupt(&format!("lines: {e}")))?;
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "pending" => OrderStatus::Pending,
        "confirmed" => OrderStatus::Confirmed {
            payment_id: row
                .try_get::<Option<String>, _>("payment_id")?
                .unwrap_or_default(),
        },
        "cancelled" => OrderStatus::Cancelled {
            cause: match row.try_get::<Option<String>, _>("cause")?.as_deref() {
                Some("stock") => CancelCause::Stock,
                Some("payment") => CancelCause::Payment,
                other => return Err(corrupt(&format!("cause {other:?}"))),
            },
            reason: row
                .try_get::<Option<String>, _>("reason")?
                .unwrap_or_default(),
        },
        other => return Err(corrupt(&format!("status {other:?}"))),
    };
    Ok(Order {
        customer_id: row.try_get("customer_id")?,
        lines,
        total_minor: row.try_get("total_minor")?,
        status,
        id,
    })
}
