//! `courier dlq show <topic> <id>`: one dead letter in full, read without removing it.

use std::{io::Write, sync::Arc};

use courier_core::Broker;

use crate::{CliError, args::ShowArgs, dlq::read::read, letter::ShownLetter, render};

/// Shows the dead letter `args.id` of `args.topic` with its headers and payload (text, or
/// JSON with `args.json`) on `out`, and returns it. Nothing is acked.
///
/// # Errors
/// [`FAILED`](crate::error::FAILED) when no dead letter read has that id; otherwise as for
/// [`read`], or when writing fails.
///
/// # Cancel safety
/// As for [`list`](super::list()).
pub async fn show(
    broker: &Arc<dyn Broker>,
    args: &ShowArgs,
    out: &mut (dyn Write + Send),
) -> Result<ShownLetter, CliError> {
    let held = read(broker, &args.topic, &args.read).await?;
    let found = held
        .deliveries
        .iter()
        .find(|d| d.message.id == args.id.as_str())
        .map(|d| ShownLetter::of(&d.message));
    let dlq = held.dlq.clone();
    let scanned = held.deliveries.len();
    held.release(false).await?;
    let Some(shown) = found else {
        return Err(CliError::failed(format!(
            "no dead letter with id {:?} among the {scanned} read from {dlq}",
            args.id
        )));
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &shown)
            .map_err(|e| CliError::failed(format!("writing JSON failed: {e}")))?;
        writeln!(out)?;
    } else {
        render::letter(out, &shown)?;
    }
    Ok(shown)
}
