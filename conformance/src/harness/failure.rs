//! How a case fails: [`Failure`], the macros [`ensure!`] and [`fail!`], and [`Context`] to turn
//! a courier error into a failure that says what was being done.

use std::fmt::Display;

/// Marks the message of a panic a case provokes on purpose (a handler that panics), so the
/// trials' panic hook does not print it.
pub(crate) const DELIBERATE_PANIC: &str = "(deliberate panic)";

/// Why a test failed, in words.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

/// What a test returns.
pub(crate) type TestResult<T = ()> = Result<T, Failure>;

/// Fails the test with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::harness::Failure(format!($($arg)+)));
        }
    };
}
pub(crate) use ensure;

/// Fails the test with a formatted message.
macro_rules! fail {
    ($($arg:tt)+) => {
        return Err($crate::harness::Failure(format!($($arg)+)))
    };
}
pub(crate) use fail;

/// Turns a courier error into a failure that says what was being done.
pub(crate) trait Context<T> {
    /// The failure `what: error`.
    fn context(self, what: impl Display) -> TestResult<T>;
}

impl<T> Context<T> for courier_core::Result<T> {
    fn context(self, what: impl Display) -> TestResult<T> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}
