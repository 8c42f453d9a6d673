//! [`Progress`]: a progress bar on standard error for long runs, drawn only when asked (the
//! binary asks when standard error is a terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting to a total, or nothing.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar labelled `label` counting to `total`, drawn on standard error when `shown`.
    pub fn new(total: usize, label: &str, shown: bool) -> Self {
        if !shown {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(
            Some(u64::try_from(total).unwrap_or(u64::MAX)),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        Self(Some(bar))
    }

    /// Counts `n` more done.
    pub fn add(&self, n: usize) {
        if let Some(bar) = &self.0 {
            bar.inc(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
