//! [`SimulatedGateway`]: a deterministic gateway, optionally journalled to a file.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use tracing::warn;

use crate::{Charge, ChargeOutcome, GatewayError, PaymentGateway};

#[derive(Debug, Default)]
struct State {
    decided: HashMap<String, Charge>,
    /// Decisions in the order made (what [`SimulatedGateway::charges`] returns).
    log: Vec<String>,
    journal: Option<File>,
}

/// A payment gateway that approves every amount up to `decline_above_minor` and declines the
/// rest, with payment ids `pay-<order id>`.
///
/// Idempotent by order id. With a journal ([`SimulatedGateway::with_journal`]) every decision
/// is appended to a JSON-lines file before it is returned, and read back at start, so a
/// restarted payment process never charges an order a second time.
#[derive(Debug)]
pub struct SimulatedGateway {
    decline_above_minor: i64,
    journal_path: Option<PathBuf>,
    state: Mutex<State>,
}

impl SimulatedGateway {
    /// A gateway kept in memory, declining amounts above `decline_above_minor`.
    pub fn new(decline_above_minor: i64) -> Self {
        Self {
            decline_above_minor,
            journal_path: None,
            state: Mutex::new(State::default()),
        }
    }

    /// A gateway whose decisions are journalled to `path` (created when missing; the
    /// decisions it holds are loaded, so orders charged before are not charged again).
    ///
    /// # Errors
    /// When the file cannot be opened or read.
    pub fn with_journal(decline_above_minor: i64, path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let mut state = State::default();
        for charge in Self::read_journal(path)? {
            if !state.decided.contains_key(&charge.order_id) {
                state.log.push(charge.order_id.clone());
                state.decided.insert(charge.order_id.clone(), charge);
            }
        }
        let mut journal = OpenOptions::new().create(true).append(true).open(path)?;
        if ends_torn(path)? {
            // Close a line cut short by a crash, so the next record starts on its own line.
            journal.write_all(b"\n")?;
        }
        state.journal = Some(journal);
        Ok(Self {
            decline_above_minor,
            journal_path: Some(path.to_owned()),
            state: Mutex::new(state),
        })
    }

    /// Every decision recorded in the journal at `path`, in the order written, duplicates
    /// included (there are none unless an order was charged twice). A missing file is empty;
    /// a line that does not parse (cut short by a crash mid-write) is skipped with a warning.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn read_journal(path: impl AsRef<Path>) -> io::Result<Vec<Charge>> {
        let path = path.as_ref();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut charges = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Charge>(&line) {
                Ok(charge) => charges.push(charge),
                Err(e) => {
                    warn!(path = %path.display(), line = n + 1, error = %e, "skipping an unreadable journal line")
                }
            }
        }
        Ok(charges)
    }

    /// The journal file, if any.
    pub fn journal_path(&self) -> Option<&Path> {
        self.journal_path.as_deref()
    }

    /// Every decision, in the order made (loaded ones first).
    pub fn charges(&self) -> Vec<Charge> {
        let state = self.lock();
        state
            .log
            .iter()
            .map(|id| state.decided[id].clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn decide(&self, order_id: &str, amount_minor: i64) -> Charge {
        let outcome = if amount_minor > self.decline_above_minor {
            ChargeOutcome::Declined {
                reason: format!(
                    "payment declined: {amount_minor} exceeds the limit of {} (minor units)",
                    self.decline_above_minor
                ),
            }
        } else {
            ChargeOutcome::Approved {
                payment_id: format!("pay-{order_id}"),
            }
        };
        Charge {
            order_id: order_id.to_owned(),
            amount_minor,
            outcome,
        }
    }
}

/// Whether the file at `path` is non-empty and does not end with a newline.
fn ends_torn(path: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn charge(&self, order_id: &str, amount_minor: i64) -> Result<Charge, GatewayError> {
        let mut state = self.lock();
        if let Some(charge) = state.decided.get(order_id) {
            return Ok(charge.clone());
        }
        let charge = self.decide(order_id, amount_minor);
        if let Some(journal) = state.journal.as_mut() {
            let mut line = serde_json::to_vec(&charge).map_err(|e| GatewayError(e.into()))?;
            line.push(b'\n');
            // One write of the whole line on an append-only file: a crash leaves the line
            // whole or absent, never a charge without its record.
            journal
                .write_all(&line)
                .map_err(|e| GatewayError(e.into()))?;
        }
        state.log.push(order_id.to_owned());
        state.decided.insert(order_id.to_owned(), charge.clone());
        Ok(charge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn declines_above_the_limit_and_is_idempotent() {
        let g = SimulatedGateway::new(1000);
        let ok = g.charge("a", 1000).await.expect("answers");
        assert_eq!(
            ok.outcome,
            ChargeOutcome::Approved {
                payment_id: "pay-a".into()
            }
        );
        let no = g.charge("b", 1001).await.expect("answers");
        assert!(!no.is_approved());
        let again = g.charge("a", 5000).await.expect("answers");
        assert_eq!(
            again, ok,
            "a second charge of one order returns the first answer"
        );
        assert_eq!(g.charges().len(), 2);
    }

    #[tokio::test]
    async fn the_journal_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("charges.jsonl");
        {
            let g = SimulatedGateway::with_journal(1000, &path).expect("opens");
            g.charge("a", 10).await.expect("answers");
            g.charge("b", 2000).await.expect("answers");
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"order_id\": \"cut sh"))
            .expect("appends a torn line");
        let g = SimulatedGateway::with_journal(1000, &path).expect("reopens");
        assert_eq!(g.charges().len(), 2);
        let again = g.charge("a", 10).await.expect("answers");
        assert!(again.is_approved());
        g.charge("c", 5).await.expect("answers");
        let journal = SimulatedGateway::read_journal(&path).expect("reads");
        let ids: Vec<_> = journal.iter().map(|c| c.order_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"], "a repeated charge writes nothing");
    }
}
