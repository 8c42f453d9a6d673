//! [`run`]: one command on a connected broker, with the [`Io`] it reads and writes.

use std::{
    io::{Read, Write},
    sync::Arc,
};

use courier_core::{Broker, shutdown_signal};

use crate::{
    CliError,
    args::{Command, DlqCommand},
    confirm::Confirm,
    dlq, send, tail,
};

/// What a command reads and writes besides the broker.
pub struct Io<'a> {
    /// Where results go (standard output).
    pub out: &'a mut (dyn Write + Send),
    /// The payload of `send` (standard input).
    pub input: &'a mut (dyn Read + Send),
    /// Asks before a purge.
    pub confirm: &'a mut dyn Confirm,
    /// Whether standard error is a terminal: progress bars and notices are drawn there.
    pub terminal: bool,
}

/// Runs `command` on `broker`. `tail` runs until SIGINT or SIGTERM (or `--count`).
///
/// # Errors
/// The command's [`CliError`].
///
/// # Cancel safety
/// As for the command run.
pub async fn run(broker: &Arc<dyn Broker>, command: Command, io: Io<'_>) -> Result<(), CliError> {
    match command {
        Command::Dlq(DlqCommand::List(args)) => dlq::list(broker, &args, io.out).await.map(drop),
        Command::Dlq(DlqCommand::Show(args)) => dlq::show(broker, &args, io.out).await.map(drop),
        Command::Dlq(DlqCommand::Redrive(args)) => dlq::redrive(broker, &args, io.out, io.terminal)
            .await
            .map(drop),
        Command::Dlq(DlqCommand::Purge(args)) => {
            dlq::purge(broker, &args, io.out, io.confirm, io.terminal)
                .await
                .map(drop)
        }
        Command::Send(args) => {
            let mut payload = Vec::new();
            io.input.read_to_end(&mut payload).map_err(|e| {
                CliError::failed(format!(
                    "reading the payload from standard input failed: {e}"
                ))
            })?;
            send::send(broker, &args, payload, io.out).await.map(drop)
        }
        Command::Tail(args) => {
            let group = args.group_name();
            if io.terminal {
                eprintln!(
                    "tailing {} through the temporary group {group} (Ctrl-C stops)",
                    args.topic
                );
            }
            tail::tail(broker, &args, &group, io.out, shutdown_signal())
                .await
                .map(drop)
        }
    }
}
