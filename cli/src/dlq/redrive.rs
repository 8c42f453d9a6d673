//! `courier dlq redrive <topic>`: sends dead letters back to their original topic.
//!
//! Each batch is sent with `send_batch` and acked on the DLQ only once the broker confirmed
//! it, so a redrive that stops half way loses nothing: what was not acked is still in the
//! DLQ. A letter sent whose ack did not reach the broker is sent again by the next redrive,
//! with the same id, which consumers drop as a duplicate.

use std::{collections::BTreeMap, io::Write, sync::Arc};

use courier_core::{Broker, Delivery, Producer};
use serde::Serialize;

use crate::{
    CliError,
    args::RedriveArgs,
    dlq::{read::read, summary},
    letter::{DeadLetter, origin, redriven},
    progress::Progress,
    render,
};

/// Dead letters sent and acked per batch.
const BATCH: usize = 100;

/// What a redrive did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Redriven {
    /// Dead letters that matched the selection.
    pub matched: usize,
    /// Sent back and removed from the DLQ (0 for a dry run).
    pub sent: usize,
    /// How many were (or, for a dry run, would be) sent to each topic.
    pub topics: BTreeMap<String, usize>,
    /// Ids asked for with `--id` that were not found.
    pub missing: Vec<String>,
}

/// Sends the dead letters of `args.topic` that `args.select` matches back to their original
/// topic (header `courier-dlq-topic`, else `args.topic`) with their id, key, payload and
/// headers, less the dead-letter headers and the attempt; acks each batch on the DLQ once
/// the broker confirmed it. Letters that do not match stay in the DLQ. With `args.dry_run`
/// it only lists what it would send. A progress bar is drawn on standard error when
/// `progress`.
///
/// # Errors
/// [`FAILED`](crate::error::FAILED) when an id asked for was not found (after sending the
/// others) or a send or ack failed (what was not sent stays in the DLQ); otherwise as for
/// [`read`], or when writing fails.
///
/// # Cancel safety
/// Dropped before it returns, a batch may have been sent without its ack: those letters
/// stay in the DLQ, and sending them again makes duplicates that consumers drop by id.
pub async fn redrive(
    broker: &Arc<dyn Broker>,
    args: &RedriveArgs,
    out: &mut (dyn Write + Send),
    progress: bool,
) -> Result<Redriven, CliError> {
    let mut held = read(broker, &args.topic, &args.read).await?;
    let matching = held.take(|d| args.select.matches(&d.message));
    let found: Vec<_> = matching.iter().map(|d| &d.message).collect();
    let mut report = Redriven {
        matched: matching.len(),
        missing: summary::owned(args.select.missing(&found)),
        ..Redriven::default()
    };
    let mut by_topic: Vec<(String, Vec<Delivery>)> = Vec::new();
    for delivery in matching {
        let topic = origin(&delivery.message, &args.topic);
        *report.topics.entry(topic.clone()).or_default() += 1;
        match by_topic.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, deliveries)) => deliveries.push(delivery),
            None => by_topic.push((topic, vec![delivery])),
        }
    }
    if args.dry_run || report.matched == 0 {
        let letters: Vec<DeadLetter> = by_topic
            .iter()
            .flat_map(|(_, ds)| ds.iter().map(|d| DeadLetter::of(&d.message)))
            .collect();
        let dlq = held.dlq.clone();
        held.deliveries
            .extend(by_topic.into_iter().flat_map(|(_, ds)| ds));
        held.release(false).await?;
        if args.dry_run && !letters.is_empty() {
            render::table(out, &letters)?;
        }
        if report.matched == 0 {
            writeln!(out, "no dead letter matched on {dlq}; nothing sent")?;
        } else {
            writeln!(
                out,
                "would send {} back{}; nothing removed from {dlq}",
                summary::count(report.matched, "dead letter"),
                summary::topics(&report.topics)
            )?;
        }
        return summary::finish(report, &dlq);
    }

    let producer = match broker.producer().await {
        Ok(producer) => producer,
        Err(e) => {
            let dlq = held.dlq.clone();
            held.deliveries
                .extend(by_topic.into_iter().flat_map(|(_, ds)| ds));
            let _ = held.release(false).await;
            return Err(CliError::broker(&format!("redriving {dlq}"), &e));
        }
    };
    let bar = Progress::new(report.matched, "redriving", progress);
    let outcome = send_and_ack(producer.as_ref(), &mut by_topic, &bar, &mut report).await;
    bar.finish();
    let _ = producer.close().await;
    held.deliveries.extend(
        by_topic
            .into_iter()
            .flat_map(|(_, ds)| ds)
            .filter(|d| !d.is_settled()),
    );
    let dlq = held.dlq.clone();
    let released = held.release(report.sent > 0).await;
    if report.sent > 0 || outcome.is_ok() {
        writeln!(
            out,
            "sent {} back{} and removed {} from {dlq}",
            summary::count(report.sent, "dead letter"),
            summary::topics(&report.topics),
            if report.sent == 1 { "it" } else { "them" },
        )?;
    }
    outcome?;
    released?;
    summary::finish(report, &dlq)
}

/// Sends each batch of each topic, then acks it; counts into `report`.
async fn send_and_ack(
    producer: &dyn Producer,
    by_topic: &mut [(String, Vec<Delivery>)],
    bar: &Progress,
    report: &mut Redriven,
) -> Result<(), CliError> {
    report.topics.clear();
    for (topic, deliveries) in by_topic.iter_mut() {
        for batch in deliveries.chunks_mut(BATCH) {
            let messages = batch.iter().map(|d| redriven(&d.message)).collect();
            producer.send_batch(topic, messages).await.map_err(|e| {
                CliError::broker(
                    &format!(
                        "sending back to {topic} failed after {} (the rest stay in the DLQ)",
                        summary::count(report.sent, "dead letter")
                    ),
                    &e,
                )
            })?;
            Delivery::ack_all(batch).await.map_err(|e| {
                CliError::broker(
                    &format!(
                        "{} were sent back to {topic} but not removed from the DLQ (a redrive \
                         sends them again; consumers drop the duplicates by id)",
                        batch.len()
                    ),
                    &e,
                )
            })?;
            report.sent += batch.len();
            *report.topics.entry(topic.clone()).or_default() += batch.len();
            bar.add(batch.len());
        }
    }
    Ok(())
}
