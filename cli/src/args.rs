//! The command line: [`Cli`] and its commands, parsed with clap.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

/// `courier [--config PATH] <command>`.
#[derive(Debug, Parser)]
#[command(
    name = "courier",
    version,
    about = "Dead letters, send and tail on the broker the services use",
    long_about = "Dead letters, send and tail on the broker the services use.\n\n\
        The broker comes from the same config file and COURIER_* environment as the services \
        (COURIER_BROKER__KIND=rabbitmq, ...). Exit codes: 0 done, 1 failed under way, 2 bad \
        arguments or configuration, unreachable broker, or a backend that cannot do it."
)]
pub struct Cli {
    /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dead letters of a topic (kept on TOPIC.dlq by the group dead-letters).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Sends one message to a topic; its payload is read from standard input.
    Send(SendArgs),
    /// Prints the messages of a topic as they arrive, through a temporary group of its own.
    Tail(TailArgs),
}

/// `courier dlq <command>`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Lists the dead letters of a topic without removing them.
    List(ListArgs),
    /// Shows one dead letter with its headers and payload, without removing it.
    Show(ShowArgs),
    /// Sends dead letters back to their original topic, then removes them from the DLQ.
    Redrive(RedriveArgs),
    /// Removes dead letters for good (asks first; --yes does not).
    Purge(PurgeArgs),
}

/// How dead letters are read: up to `limit`, until none came for `idle`.
#[derive(Clone, Debug, Args)]
pub struct ReadArgs {
    /// The most dead letters read at once (more wait for the next run).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub limit: u16,
    /// Reading stops once no dead letter came for this long (30s, 500ms, ...).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub idle: Duration,
}

impl Default for ReadArgs {
    fn default() -> Self {
        Self {
            limit: 1000,
            idle: Duration::from_secs(2),
        }
    }
}

/// Which dead letters a command acts on: all, or those matching every filter given.
#[derive(Clone, Debug, Default, Args)]
pub struct Selection {
    /// Only the dead letter with this id (repeatable).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Only dead letters whose reason contains this text.
    #[arg(long, value_name = "TEXT")]
    pub reason_contains: Option<String>,
}

/// `courier dlq list <topic>`.
#[derive(Clone, Debug, Args)]
pub struct ListArgs {
    /// The topic whose dead letters to list (not the `.dlq` topic itself).
    pub topic: String,
    /// How dead letters are read.
    #[command(flatten)]
    pub read: ReadArgs,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `courier dlq show <topic> <id>`.
#[derive(Clone, Debug, Args)]
pub struct ShowArgs {
    /// The topic whose dead letter to show.
    pub topic: String,
    /// The message id of the dead letter.
    pub id: String,
    /// How dead letters are read.
    #[command(flatten)]
    pub read: ReadArgs,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `courier dlq redrive <topic>`.
#[derive(Clone, Debug, Args)]
pub struct RedriveArgs {
    /// The topic whose dead letters to send back.
    pub topic: String,
    /// Which dead letters.
    #[command(flatten)]
    pub select: Selection,
    /// Only list what would be sent back; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How dead letters are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// `courier dlq purge <topic>`.
#[derive(Clone, Debug, Args)]
pub struct PurgeArgs {
    /// The topic whose dead letters to remove.
    pub topic: String,
    /// Which dead letters.
    #[command(flatten)]
    pub select: Selection,
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How dead letters are read.
    #[command(flatten)]
    pub read: ReadArgs,
}

/// `courier send <topic>`.
#[derive(Clone, Debug, Args)]
pub struct SendArgs {
    /// The topic to send to.
    pub topic: String,
    /// The message key (ordering and partitioning).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// A header, as NAME=VALUE (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// The message id (default: a fresh UUIDv7).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Deliver after this long (30s, 5m, ...), on a backend with delayed delivery.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub delay: Option<Duration>,
}

/// `courier tail <topic>`.
#[derive(Clone, Debug, Args)]
pub struct TailArgs {
    /// The topic to watch.
    pub topic: String,
    /// The temporary group to read through (default courier-tail-XXXXXXXX, random); it must
    /// not be a group that services use, or this would take their messages.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many messages (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
}

impl TailArgs {
    /// The group to read through: `--group`, else `courier-tail-<8 random hex digits>`.
    pub fn group_name(&self) -> String {
        self.group.clone().unwrap_or_else(|| {
            let random = uuid::Uuid::new_v4().simple().to_string();
            format!("courier-tail-{}", &random[..8])
        })
    }
}

/// Reads `NAME=VALUE`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn commands_parse_with_their_defaults() {
        let cli = Cli::try_parse_from(["courier", "dlq", "list", "orders", "--json"]).unwrap();
        let Command::Dlq(DlqCommand::List(list)) = cli.command else {
            panic!("a list");
        };
        assert_eq!((list.topic.as_str(), list.json), ("orders", true));
        assert_eq!(
            (list.read.limit, list.read.idle),
            (1000, Duration::from_secs(2))
        );

        let cli = Cli::try_parse_from([
            "courier", "send", "t", "--header", "a=b=c", "--delay", "1m 30s", "--key", "k",
        ])
        .unwrap();
        let Command::Send(send) = cli.command else {
            panic!("a send");
        };
        assert_eq!(send.headers, vec![("a".to_owned(), "b=c".to_owned())]);
        assert_eq!(send.delay, Some(Duration::from_secs(90)));

        for bad in [
            vec!["courier", "send", "t", "--header", "novalue"],
            vec!["courier", "send", "t", "--delay", "soon"],
            vec!["courier", "dlq", "list", "t", "--limit", "0"],
            vec!["courier", "dlq", "purge"],
        ] {
            assert!(Cli::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tail_groups_are_random_unless_named() {
        let args = TailArgs {
            topic: "t".into(),
            group: None,
            json: false,
            count: None,
        };
        let (a, b) = (args.group_name(), args.group_name());
        assert!(a.starts_with("courier-tail-") && a.len() == "courier-tail-".len() + 8);
        assert_ne!(a, b);
        let named = TailArgs {
            group: Some("mine".into()),
            ..args
        };
        assert_eq!(named.group_name(), "mine");
    }
}
