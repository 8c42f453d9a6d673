//! `courier dlq purge <topic>`: removes dead letters for good, after asking.

use std::{io::Write, sync::Arc};

use courier_core::{Broker, Delivery};
use serde::Serialize;

use crate::{
    CliError, args::PurgeArgs, confirm::Confirm, dlq::read::read, dlq::summary, progress::Progress,
};

/// Dead letters acked per call.
const BATCH: usize = 500;

/// What a purge did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Dead letters that matched the selection.
    pub matched: usize,
    /// Removed from the DLQ (0 when the answer was no).
    pub removed: usize,
    /// Ids asked for with `--id` that were not found.
    pub missing: Vec<String>,
}

/// Removes the dead letters of `args.topic` that `args.select` matches, after asking
/// `confirm` (unless `args.yes`). Letters that do not match stay in the DLQ. A progress bar
/// is drawn on standard error when `progress`.
///
/// # Errors
/// [`USAGE`](crate::error::USAGE) without `args.yes` when `confirm` cannot ask (no
/// terminal), before anything is read; [`FAILED`](crate::error::FAILED) when an id asked for
/// was not found (after removing the others) or an ack failed; otherwise as for [`read`],
/// or when writing fails or the question cannot be asked.
///
/// # Cancel safety
/// Dropped before it returns, some batches may have been removed and the rest stay.
pub async fn purge(
    broker: &Arc<dyn Broker>,
    args: &PurgeArgs,
    out: &mut (dyn Write + Send),
    confirm: &mut dyn Confirm,
    progress: bool,
) -> Result<Purged, CliError> {
    if !args.yes && !confirm.can_ask() {
        return Err(CliError::usage(
            "purge removes dead letters for good and asks first; there is no terminal to ask \
             on: pass --yes",
        ));
    }
    let mut held = read(broker, &args.topic, &args.read).await?;
    let mut matching = held.take(|d| args.select.matches(&d.message));
    let found: Vec<_> = matching.iter().map(|d| &d.message).collect();
    let mut report = Purged {
        matched: matching.len(),
        missing: summary::owned(args.select.missing(&found)),
        removed: 0,
    };
    let dlq = held.dlq.clone();
    let agreed = report.matched > 0
        && (args.yes
            || confirm.ask(&format!(
                "Remove {} from {dlq} for good?",
                summary::count(report.matched, "dead letter")
            ))?);
    if !agreed {
        held.deliveries.append(&mut matching);
        held.release(false).await?;
        if report.matched == 0 {
            writeln!(out, "no dead letter matched on {dlq}; nothing removed")?;
        } else {
            writeln!(out, "nothing removed from {dlq}")?;
        }
        return summary::finish(report, &dlq);
    }
    let bar = Progress::new(report.matched, "purging", progress);
    let mut outcome = Ok(());
    for batch in matching.chunks_mut(BATCH) {
        if let Err(e) = Delivery::ack_all(batch).await {
            outcome = Err(CliError::broker(
                &format!(
                    "removing from {dlq} failed after {}",
                    summary::count(report.removed, "dead letter")
                ),
                &e,
            ));
            break;
        }
        report.removed += batch.len();
        bar.add(batch.len());
    }
    bar.finish();
    held.deliveries
        .extend(matching.into_iter().filter(|d| !d.is_settled()));
    let released = held.release(report.removed > 0).await;
    writeln!(
        out,
        "removed {} from {dlq}",
        summary::count(report.removed, "dead letter")
    )?;
    outcome?;
    released?;
    summary::finish(report, &dlq)
}
