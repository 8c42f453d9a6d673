//! [`Confirm`]: asking before doing something that cannot be undone.

use std::io::{self, BufRead, IsTerminal, Write};

/// Asks the user a yes-or-no question.
pub trait Confirm: Send {
    /// Whether someone can answer (standard input is a terminal).
    fn can_ask(&self) -> bool;

    /// Asks `question`; `true` for yes.
    ///
    /// # Errors
    /// When the question cannot be asked or the answer not read.
    fn ask(&mut self, question: &str) -> io::Result<bool>;
}

/// Asks on standard error and reads the answer from standard input: `y` or `yes` is yes.
/// Blocks the calling thread while it waits.
#[derive(Debug, Default)]
pub struct Terminal;

impl Confirm for Terminal {
    fn can_ask(&self) -> bool {
        io::stdin().is_terminal()
    }

    fn ask(&mut self, question: &str) -> io::Result<bool> {
        let mut err = io::stderr().lock();
        write!(err, "{question} [y/N] ")?;
        err.flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        Ok(is_yes(&answer))
    }
}

/// A fixed answer, for callers without a terminal (and tests).
#[derive(Clone, Copy, Debug)]
pub struct Answer(pub bool);

impl Confirm for Answer {
    fn can_ask(&self) -> bool {
        true
    }

    fn ask(&mut self, _question: &str) -> io::Result<bool> {
        Ok(self.0)
    }
}

/// No one to ask: [`can_ask`](Confirm::can_ask) is `false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nobody;

impl Confirm for Nobody {
    fn can_ask(&self) -> bool {
        false
    }

    fn ask(&mut self, _question: &str) -> io::Result<bool> {
        Ok(false)
    }
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_is_yes() {
        assert!(is_yes("y\n") && is_yes(" YES "));
        assert!(!is_yes("") && !is_yes("n") && !is_yes("yep"));
    }
}
