//! # courier-tests
//!
//! The conformance suite every backend runs unchanged ([`conformance`], re-exported from
//! `courier-conformance` with its [`support`] and [`faulty`]), its runs on the brokers, the
//! saga's tests, and the `compare` benchmark binary.

pub use courier_conformance as conformance;
pub use courier_conformance::{async_tests, faulty, support};
pub mod ports;
pub mod proxy;
pub mod python;
pub mod saga;
pub mod zmtp;
