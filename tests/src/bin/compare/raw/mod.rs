//! The raw clients, each doing the benchmark's workload the way a user of that client would,
//! with the settings courier's backend uses.

pub mod kafka;
pub mod memory;
pub mod rabbitmq;
pub mod zeromq;
