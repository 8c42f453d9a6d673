//! The payment service's tables: the charge decided for each order, and the simulated
//! gateway's journal.

use courier_outbox::{AnyConnection, AnyRow, Migration, Row, StoreError};

use crate::{Charge, ChargeOutcome};

/// The payment service's tables (component `payment`): `charges`, one row per order, and
/// `gateway_charges`, every charge the simulated gateway made, in order (no uniqueness, so a
/// double charge would show).
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "charges and the simulated gateway's journal",
    "create table if not exists {prefix}_charges (
        order_id text primary key,
        amount_minor bigint not null,
        outcome text not null,
        payment_id text,
        reason text
    );
    create table if not exists {prefix}_gateway_charges (
        seq {serial_key},
        order_id text not null,
        amount_minor bigint not null,
        outcome text not null,
        payment_id text,
        reason text,
        charged_us bigint not null
    );
    create index if not exists {prefix}_gateway_charges_order on {prefix}_gateway_charges (order_id)",
)];

const COLUMNS: &str = "order_id, amount_minor, outcome, payment_id, reason";

/// Which of the two tables of charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ledger {
    /// `charges`: the service's record, one row per order.
    Charges,
    /// `gateway_charges`: every charge the simulated gateway made, in order.
    Gateway,
}

impl Ledger {
    fn table(self, prefix: &str) -> String {
        match self {
            Self::Charges => format!("{prefix}_charges"),
            Self::Gateway => format!("{prefix}_gateway_charges"),
        }
    }

    /// The order rows are read in: by order id, or as written.
    fn order_by(self) -> &'static str {
        match self {
            Self::Charges => "order_id",
            Self::Gateway => "seq",
        }
    }
}

/// The charge of `order_id` in `ledger`, the first if several.
///
/// # Errors
/// [`StoreError`] when the database fails or the row cannot be read.
pub async fn get(
    conn: &mut AnyConnection,
    prefix: &str,
    ledger: Ledger,
    order_id: &str,
) -> Result<Option<Charge>, StoreError> {
    let row = courier_outbox::query(&format!(
        "select {COLUMNS} from {} where order_id = $1 order by {} limit 1",
        ledger.table(prefix),
        ledger.order_by()
    ))
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Appends `charge` to `ledger`.
///
/// # Errors
/// [`StoreError`] when the database fails (a second charge of one order in
/// [`Ledger::Charges`] violates its key).
pub async fn insert(
    conn: &mut AnyConnection,
    prefix: &str,
    ledger: Ledger,
    charge: &Charge,
) -> Result<(), StoreError> {
    let (outcome, payment_id, reason) = match &charge.outcome {
        ChargeOutcome::Approved { payment_id } => ("approved", Some(payment_id.clone()), None),
        ChargeOutcome::Declined { reason } => ("declined", None, Some(reason.clone())),
    };
    let query = match ledger {
        Ledger::Charges => format!(
            "insert into {} ({COLUMNS}) values ($1, $2, $3, $4, $5)",
            ledger.table(prefix)
        ),
        Ledger::Gateway => format!(
            "insert into {} ({COLUMNS}, charged_us) values ($1, $2, $3, $4, $5, $6)",
            ledger.table(prefix)
        ),
    };
    let mut query = courier_outbox::query(&query)
        .bind(charge.order_id.clone())
        .bind(charge.amount_minor)
        .bind(outcome)
        .bind(payment_id)
        .bind(reason);
    if ledger == Ledger::Gateway {
        query = query.bind(courier_outbox::now_us());
    }
    query.execute(conn).await?;
    Ok(())
}

/// Every row of `ledger`, in its order (see [`Ledger`]).
///
/// # Errors
/// As for [`get`].
pub async fn all(
    conn: &mut AnyConnection,
    prefix: &str,
    ledger: Ledger,
) -> Result<Vec<Charge>, StoreError> {
    let rows = courier_outbox::query(&format!(
        "select {COLUMNS} from {} order by {}",
        ledger.table(prefix),
        ledger.order_by()
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &AnyRow) -> Result<Charge, StoreError> {
    let order_id: String = row.try_get("order_id")?;
    let outcome: String = row.try_get("outcome")?;
    let text = |name: &str| -> Result<String, StoreError> {
        Ok(row.try_get::<Option<String>, _>(name)?.unwrap_or_default())
    };
    let outcome = match outcome.as_str() {
        "approved" => ChargeOutcome::Approved {
            payment_id: text("payment_id")?,
        },
        "declined" => ChargeOutcome::Declined {
            reason: text("reason")?,
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "charge of {order_id}: outcome {other:?}"
            )));
        }
    };
    Ok(Charge {
        amount_minor: row.try_get("amount_minor")?,
        outcome,
        order_id,
    })
}
