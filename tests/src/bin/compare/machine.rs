//! The machine a report was measured on: cores, CPU model, memory, kernel and date.

use std::time::{SystemTime, UNIX_EPOCH};

/// A description of this machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Cores available to the process.
    pub cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Total memory in GiB, from /proc/meminfo.
    pub memory_gib: Option<f64>,
    /// Kernel release.
    pub kernel: String,
    /// The date and time, UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
}

impl Machine {
    /// This machine, now.
    pub fn current() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        };
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let memory_gib = field(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib / (1024.0 * 1024.0));
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            memory_gib,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            date: utc_now(),
        }
    }
}

fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    }
}
