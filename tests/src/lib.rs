//! # courier-tests
//!
//! The conformance suite every backend runs unchanged ([`conformance`]), the helpers its runs
//! share ([`support`]), a broker wrapper that breaks one guarantee on purpose to prove the
//! suite notices ([`faulty`]), and the `compare` benchmark binary.

pub mod conformance;
pub mod faulty;
pub mod proxy;
pub mod saga;
pub mod support;
pub mod zmtp;
