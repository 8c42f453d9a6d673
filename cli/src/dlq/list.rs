//! `courier dlq list <topic>`: the dead letters of a topic, read without removing them.

use std::{io::Write, sync::Arc};

use courier_core::Broker;

use crate::{CliError, args::ListArgs, dlq::read::read, letter::DeadLetter, render};

/// Lists the dead letters of `args.topic` as a table (or JSON with `args.json`) on `out`,
/// and returns them. Nothing is acked: the letters stay in the DLQ.
///
/// # Errors
/// As for [`read`]; or when writing fails (the letters stay either way).
///
/// # Cancel safety
/// Dropped before it returns, the letters read so far go back to the group with the
/// dropped consumer.
pub async fn list(
    broker: &Arc<dyn Broker>,
    args: &ListArgs,
    out: &mut (dyn Write + Send),
) -> Result<Vec<DeadLetter>, CliError> {
    let held = read(broker, &args.topic, &args.read).await?;
    let letters: Vec<DeadLetter> = held
        .deliveries
        .iter()
        .map(|d| DeadLetter::of(&d.message))
        .collect();
    let (dlq, at_limit) = (held.dlq.clone(), held.at_limit);
    held.release(false).await?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &letters)
            .map_err(|e| CliError::failed(format!("writing JSON failed: {e}")))?;
        writeln!(out)?;
    } else {
        if !letters.is_empty() {
            render::table(out, &letters)?;
        }
        writeln!(
            out,
            "{} dead letter{} on {dlq}{}",
            letters.len(),
            if letters.len() == 1 { "" } else { "s" },
            if at_limit {
                " (the limit: more may be waiting, see --limit)"
            } else {
                ""
            }
        )?;
    }
    Ok(letters)
}
