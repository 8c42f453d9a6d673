//! # courier-tests
//!
//! The conformance suite every backend runs unchanged ([`conformance`]), the helpers its runs
//! share ([`support`]), and the `compare` benchmark binary.

pub mod support;
