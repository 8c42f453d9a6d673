//! What every conformance case uses: its context ([`Ctx`]), failures, steps that talk to the
//! broker with deadlines, background consumers ([`Members`]) and checks of what arrived.

mod checks;
mod ctx;
mod failure;
mod members;
mod steps;

pub(crate) use self::{
    checks::{SEQ, expect_all, expect_exactly, expect_per_key_order, intact, sample, seq_of},
    ctx::{Ctx, Leftovers, lock},
    failure::{Context, DELIBERATE_PANIC, Failure, TestResult, ensure, fail},
    members::{MemberOptions, Members, Received},
    steps::{ack_all, close, expect_silence, join, recv_one, send_batch, spawn_send},
};
