//! `courier`: dead letters, send and tail on the broker the services use.

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use clap::{Parser, error::ErrorKind};
use courier_cli::{CliError, Io, args::Cli, confirm::Terminal, connect, error::USAGE, run};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return bad_command_line(&e),
    };
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return fail(&CliError::failed(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    let outcome = runtime.block_on(async move {
        let broker = connect::connect(cli.config.as_deref()).await?;
        let (mut out, mut input, mut confirm) = (std::io::stdout(), std::io::stdin(), Terminal);
        let io = Io {
            out: &mut out,
            input: &mut input,
            confirm: &mut confirm,
            terminal: std::io::stderr().is_terminal(),
        };
        let result = run(&broker, cli.command, io).await;
        let _ = broker.close().await;
        result
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_closed_output() => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &CliError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(error.exit_code())
}

/// Help and version go to standard output (exit 0); an error is one line (exit 2).
fn bad_command_line(error: &clap::Error) -> ExitCode {
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    let line = match error.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => "a command is missing".to_owned(),
        _ => {
            let text = error.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        }
    };
    eprintln!("error: {line} (see courier --help)");
    ExitCode::from(USAGE)
}

/// Logs to standard error as `RUST_LOG` says; nothing when it is unset.
fn init_logs() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}
