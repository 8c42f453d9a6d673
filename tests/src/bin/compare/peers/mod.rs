//! Other messaging libraries measured on courier's workload, each driven the way its own
//! documentation recommends at its best settings (built only with the `peers` feature).

pub mod ruststream;
pub mod ruststream_zeromq;
