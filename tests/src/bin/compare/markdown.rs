//! The report as Markdown: the machine, the table (three lines per backend and workload:
//! courier, the raw client doing the same work, the bare raw client), the targets, what was
//! skipped, notes.

use std::fmt::Write as _;

use crate::report::{Figures, MEMORY_TARGET, RATIO_TARGET, Report, Row, Spread};

/// Renders `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let memory = m
        .memory_gib
        .map_or(String::new(), |g| format!(", {g:.0} GiB RAM"));
    let _ = writeln!(out, "# courier compare\n");
    let _ = writeln!(
        out,
        "Machine: {} cores, {}{memory}, Linux {}. Date: {}.  ",
        m.cores, m.cpu, m.kernel, m.date
    );
    let _ = writeln!(out, "Command: `{}`  ", report.command);
    let _ = writeln!(
        out,
        "Payload {} B; each throughput figure is the median of {} interleaved runs \
         (courier, raw, bare, courier, ...) with the range min–max in brackets. `raw` is the \
         raw client doing the same work as courier (ids, headers, acks: see the notes), \
         `bare` the raw client doing only what the broker needs, in its simplest form; \
         courier ÷ side is courier's median over that side's, and the target is held to \
         the `raw` line. A line named after another library (built with the `peers` \
         feature) is that library driven through its own API at its best settings.\n",
        report.size, report.runs
    );
    out.push_str(
        "| backend | workload | messages | side | msg/s | courier ÷ side | allocs/msg \
         | p50 µs | p99 µs | p99.9 µs | latency rate msg/s | saga orders/s |\n",
    );
    out.push_str("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for row in &report.rows {
        out.push_str(&table_lines(row));
    }
    out.push('\n');
    if !report.sagas.is_empty() {
        out.push_str(
            "The saga (`shop demo`: order, inventory and payment services in one process, every \
             state change and its events in one transaction of the service's store, sent by the \
             outbox relay) per store; relay latency is outbox commit to broker confirm:\n\n\
             | backend | store | saga orders/s | relay p50 ms | relay p99 ms |\n|---|---|--:|--:|--:|\n",
        );
        for saga in &report.sagas {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} |",
                saga.backend,
                saga.store,
                thousands(saga.orders_per_sec),
                saga.relay_p50_ms,
                saga.relay_p99_ms
            );
        }
        out.push('\n');
    }
    targets(&mut out, report);
    if !report.skipped.is_empty() {
        out.push_str("\n## Skipped\n\n");
        for s in &report.skipped {
            let what = s
                .workload
                .map_or(s.backend.to_owned(), |w| format!("{} {w}", s.backend));
            let _ = writeln!(out, "- {what}: {}", s.reason);
        }
    }
    if !report.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

/// The courier, raw and bare lines of `row`, and the other library's where one is measured; the backend, workload, rates and saga only on
/// the first.
fn table_lines(row: &Row) -> String {
    let saga = row
        .orders_per_sec
        .map_or("n/a".into(), |o| format!("{o:.0}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {} | {} | {} | courier | {} | | {} | {} | {} | {saga} |",
        row.backend,
        row.workload,
        thousands(row.messages as f64),
        spread(&row.courier.throughput),
        allocations(&row.courier),
        latency(&row.courier),
        thousands(row.latency_rate),
    );
    for (side, figures, ratio) in [
        ("raw", &row.raw, row.ratio()),
        ("bare", &row.bare, row.bare_ratio()),
    ] {
        let _ = writeln!(
            out,
            "| | | | {side} | {} | {ratio:.2} | {} | {} | | |",
            spread(&figures.throughput),
            allocations(figures),
            latency(figures),
        );
    }
    if let (Some(peer), Some(ratio)) = (&row.peer, row.peer_ratio()) {
        let _ = writeln!(
            out,
            "| | | | {} | {} | {ratio:.2} | {} | {} | | |",
            peer.title,
            spread(&peer.figures.throughput),
            allocations(&peer.figures),
            latency(&peer.figures),
        );
    }
    out
}

fn allocations(figures: &Figures) -> String {
    figures
        .allocations
        .map_or("n/a".into(), |a| format!("{a:.2}"))
}

/// The three latency cells of `figures`.
fn latency(figures: &Figures) -> String {
    match &figures.latency {
        Some(l) => format!("{} | {} | {}", us(l.p50_us), us(l.p99_us), us(l.p999_us)),
        None => "n/a | n/a | n/a".into(),
    }
}

fn targets(out: &mut String, report: &Report) {
    out.push_str("## Targets\n\n");
    let (met, missed): (Vec<&Row>, Vec<&Row>) = report.rows.iter().partition(|r| r.meets_ratio());
    let list = |rows: &[&Row]| {
        rows.iter()
            .map(|r| format!("{} {} ({:.2})", r.backend, r.workload, r.ratio()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "- courier keeps at least {RATIO_TARGET:.2} of the throughput of the raw client doing \
         the same work: {}",
        match (met.is_empty(), missed.is_empty()) {
            (_, true) if !met.is_empty() => format!("**met** everywhere ({})", list(&met)),
            (_, true) => "not measured".to_owned(),
            (true, false) => format!("**missed** everywhere ({})", list(&missed)),
            (false, false) => format!("**met** on {}; **missed** on {}", list(&met), list(&missed)),
        }
    );
    let memory: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.backend == "memory")
        .collect();
    let verdict = if memory.is_empty() {
        "not measured".to_owned()
    } else {
        memory
            .iter()
            .map(|r| {
                let ok = if r.courier.throughput.median >= MEMORY_TARGET {
                    "**met**"
                } else {
                    "**missed**"
                };
                format!(
                    "{} {ok} ({} msg/s)",
                    r.workload,
                    thousands(r.courier.throughput.median)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let _ = writeln!(
        out,
        "- memory backend at least {} msg/s end-to-end with acks on {} cores: {verdict}",
        thousands(MEMORY_TARGET),
        report.machine.cores
    );
}

fn spread(s: &Spread) -> String {
    format!(
        "{} ({}–{})",
        thousands(s.median),
        thousands(s.min),
        thousands(s.max)
    )
}

fn us(v: f64) -> String {
    thousands(v)
}

/// `v` rounded, with thin thousands separators: `1,234,567`.
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-12_345.0), "-12,345");
    }
}
