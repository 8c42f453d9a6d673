//! `compare`: courier against the raw client of each broker, on the same workloads.
//!
//! ```text
//! cargo run --release -p courier-tests --bin compare -- \
//!     [--backends memory,rabbitmq,kafka,zeromq] [--messages N] [--size BYTES] [--runs R] [--json]
//! ```
//!
//! For each backend and workload (1 producer and 1 consumer, then 4 and 4 in one group) it
//! measures the throughput of produce, consume and ack through courier, through the raw
//! client doing the same work as courier, and through the bare raw client, with identical
//! settings, in interleaved runs, then the end-to-end latency at a fixed rate below
//! saturation, and the saga's orders per second. It prints a Markdown table and
//! writes target/compare/report.md, report.svg and, with `--json`, report.json.

mod allocations;
mod backend;
mod cli;
mod courier_side;
mod driver;
mod json;
mod latency;
mod machine;
mod markdown;
#[cfg(feature = "peers")]
mod peers;
mod raw;
mod report;
mod retries;
mod saga;
mod svg;
mod workload;

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    backend::{Backend, Contenders},
    cli::Args,
    driver::{Outcome, Side},
    machine::Machine,
    report::{Figures, Peer, Report, Row, SIDES, SagaRow, Skipped, Spread},
    workload::{BATCH, DEPTH, MIN_SIZE, PREFETCH, Settings, WORKLOADS, Workload},
};

#[global_allocator]
static ALLOCATOR: allocations::Counting = allocations::Counting;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Outcome<()> {
    let mut backends = args.backends.clone();
    backends.dedup();
    if args.retries {
        return run_retries(&backends, args).await;
    }
    // One more side where another library is measured (RabbitMQ and ZeroMQ, with `peers`).
    let steps = |backend: &Backend| {
        let peers =
            cfg!(feature = "peers") && matches!(backend, Backend::Rabbitmq | Backend::Zeromq);
        let sides = (SIDES + usize::from(peers)) as u64;
        WORKLOADS.len() as u64 * (sides * u64::from(args.runs) + sides) + 1
    };
    let progress = ProgressBar::new(backends.iter().map(steps).sum()).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")?
            .progress_chars("=> "),
    );
    let mut report = Report {
        machine: Machine::current(),
        command: command_line(),
        size: args.size.max(MIN_SIZE),
        runs: args.runs,
        rows: Vec::new(),
        sagas: Vec::new(),
        skipped: Vec::new(),
        notes: vec![
            "ratios: the target's courier ÷ raw is against the raw client doing the same work \
             as courier (the `raw` line, described per backend below); the `bare` line is the \
             raw client doing only what the broker needs, in its simplest form, and courier ÷ \
             bare shows what courier's guarantees cost beyond it"
                .to_owned(),
        ],
    };
    for backend in backends {
        progress.set_message(format!("{}: connecting", backend.name()));
        let contenders = match backend::prepare(backend, args).await {
            Ok(contenders) => contenders,
            Err(reason) => {
                progress.println(format!("skipping {}: {reason}", backend.name()));
                report.skipped.push(Skipped {
                    backend: backend.name(),
                    workload: None,
                    reason,
                });
                progress.inc(steps(&backend));
                continue;
            }
        };
        report.notes.push(contenders.note.clone());
        measure_backend(&contenders, backend, args, &progress, &mut report).await;
        if let Err(e) = contenders.courier.close().await {
            report.notes.push(format!(
                "{}: closing the broker failed: {e}",
                backend.name()
            ));
        }
    }
    progress.finish_and_clear();
    write_outputs(&report, args)
}

/// The retry figure on each of `backends`, both ways.
async fn run_retries(backends: &[Backend], args: &Args) -> Outcome<()> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for &backend in backends {
        let contenders = match backend::prepare(backend, args).await {
            Ok(contenders) => contenders,
            Err(reason) => {
                skipped.push(format!("{}: {reason}", backend.name()));
                continue;
            }
        };
        for mode in [retries::Mode::InLane, retries::Mode::Broker] {
            eprintln!("{}: retries {}", backend.name(), mode.name());
            let broker = contenders.courier.broker();
            let cleaner = contenders.cleaner.as_ref();
            let messages = args.messages.unwrap_or(retries::MESSAGES);
            match retries::run(broker, backend.name(), mode, messages, cleaner).await {
                Ok(row) => rows.push(row),
                Err(e) => skipped.push(format!("{} {}: {e}", backend.name(), mode.name())),
            }
        }
        let _ = contenders.courier.close().await;
    }
    let messages = args.messages.unwrap_or(retries::MESSAGES);
    let table = retries::markdown(&rows, &skipped, messages);
    println!("{table}");
    let dir = args.out_dir();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("retries.md"),
        format!(
            "{}

{table}",
            command_line()
        ),
    )?;
    Ok(())
}

async fn measure_backend(
    contenders: &Contenders,
    backend: Backend,
    args: &Args,
    progress: &ProgressBar,
    report: &mut Report,
) {
    let settings = Settings {
        messages: args.messages.unwrap_or(backend.default_messages()),
        size: args.size.max(MIN_SIZE),
        batch: BATCH,
        depth: DEPTH,
        prefetch: PREFETCH,
    };
    let first = report.rows.len();
    for workload in WORKLOADS {
        match measure(contenders, backend, workload, &settings, args, progress).await {
            Ok((row, notes)) => {
                report.rows.push(row);
                report.notes.extend(notes);
            }
            Err(e) => {
                progress.println(format!("{} {}: {e}", backend.name(), workload.name));
                report.skipped.push(Skipped {
                    backend: backend.name(),
                    workload: Some(workload.name),
                    reason: e.to_string(),
                });
            }
        }
    }
    progress.set_message(format!("{}: saga", backend.name()));
    for (n, store) in args.stores.iter().enumerate() {
        if args.orders == 0 {
            report.notes.push("saga: not run (--orders 0)".to_owned());
            break;
        }
        progress.set_message(format!("{}: saga ({store} store)", backend.name()));
        let saga = saga::run(
            &contenders.config,
            args.orders,
            contenders.cleaner.as_ref(),
            store,
        )
        .await;
        match saga {
            Ok((summary, leftover)) => {
                if n == 0 {
                    for row in &mut report.rows[first..] {
                        row.orders_per_sec = Some(summary.orders_per_sec);
                    }
                }
                report.sagas.push(SagaRow {
                    backend: backend.name(),
                    store: store.clone(),
                    orders_per_sec: summary.orders_per_sec,
                    relay_p50_ms: summary.relay_p50_ms,
                    relay_p99_ms: summary.relay_p99_ms,
                });
                if let Some(leftover) = leftover {
                    report
                        .notes
                        .push(format!("{}: saga: {leftover}", backend.name()));
                }
            }
            Err(e) => report.notes.push(format!(
                "{}: saga orders/s with the {store} store n/a: {e}",
                backend.name()
            )),
        }
    }
    progress.inc(1);
}

/// Interleaved throughput runs of every side, one counted run of each, then one latency run
/// of each at a fixed rate.
async fn measure(
    contenders: &Contenders,
    backend: Backend,
    workload: Workload,
    settings: &Settings,
    args: &Args,
    progress: &ProgressBar,
) -> Outcome<(Row, Vec<String>)> {
    let name = backend.name();
    let mut sides: Vec<&dyn Side> = vec![
        &contenders.courier,
        contenders.raw.as_ref(),
        contenders.bare.as_ref(),
    ];
    if let Some((peer, _)) = &contenders.peer {
        sides.push(peer.as_ref());
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    let mut leftovers = Vec::new();
    for run in 1..=args.runs {
        for (side, samples) in sides.iter().zip(samples.iter_mut()) {
            let label = side.label();
            progress.set_message(format!(
                "{name} {} {label}: run {run}/{}",
                workload.name, args.runs
            ));
            let rate = driver::throughput(*side, name, workload, settings)
                .await
                .map_err(|e| format!("{label} run {run}: {e}"))?;
            samples.push(rate.value);
            leftovers.extend(rate.leftover);
            progress.inc(1);
        }
    }
    let mut counted = vec![0.0; sides.len()];
    for (side, per_message) in sides.iter().zip(counted.iter_mut()) {
        progress.set_message(format!(
            "{name} {} {}: allocations",
            workload.name,
            side.label()
        ));
        let measured = driver::allocations(*side, name, workload, settings)
            .await
            .map_err(|e| format!("{} allocation run: {e}", side.label()))?;
        *per_message = measured.value;
        leftovers.extend(measured.leftover);
    }
    let spreads = samples
        .iter()
        .map(|s| Spread::of(s))
        .collect::<Option<Vec<Spread>>>()
        .ok_or("no runs")?;
    let rate = (spreads[0].median * args.latency_fraction)
        .min(args.latency_max_rate)
        .max(10.0);
    let duration = Duration::from_secs_f64(args.latency_secs.max(0.1));
    let mut latencies = vec![None; sides.len()];
    let mut notes = Vec::new();
    for (side, latency) in sides.iter().zip(latencies.iter_mut()) {
        let label = side.label();
        progress.set_message(format!(
            "{name} {} {label}: latency at {rate:.0} msg/s",
            workload.name
        ));
        match driver::latency(*side, name, workload, settings, rate, duration).await {
            Ok(measured) => {
                *latency = Some(measured.value);
                leftovers.extend(measured.leftover);
            }
            Err(e) => notes.push(format!("{name} {} {label} latency n/a: {e}", workload.name)),
        }
        progress.inc(1);
    }
    if let Some(first) = leftovers.first() {
        notes.push(format!(
            "{name} {}: {} of the runs' cleanups failed (their topics or queues are left on \
             the broker); first: {first}",
            workload.name,
            leftovers.len()
        ));
    }
    let figures = |i: usize| Figures {
        throughput: spreads[i],
        latency: latencies[i],
        allocations: Some(counted[i]),
    };
    Ok((
        Row {
            backend: name,
            workload: workload.name,
            messages: settings.messages,
            courier: figures(0),
            raw: figures(1),
            bare: figures(2),
            peer: contenders.peer.as_ref().map(|(_, title)| Peer {
                title,
                figures: figures(SIDES),
            }),
            latency_rate: rate,
            orders_per_sec: None,
        },
        notes,
    ))
}

fn write_outputs(report: &Report, args: &Args) -> Outcome<()> {
    let dir = args.out_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let markdown = markdown::render(report);
    print!("{markdown}");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok::<_, String>(())
    };
    write("report.md", &markdown)?;
    let chart = dir.join("report.svg");
    match svg::render(report, &chart) {
        Ok(()) => eprintln!("wrote {}", chart.display()),
        Err(e) => eprintln!("no chart: {e}"),
    }
    if args.json {
        write("report.json", &json::render(report)?)?;
    }
    Ok(())
}

/// The command line as given, with any password in a URL hidden.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .map(|a| courier_core::redact_url(&a))
        .collect();
    let mut line = String::from("compare");
    for arg in args.iter().skip(1) {
        line.push(' ');
        line.push_str(arg);
    }
    line
}
