//! courier-kafka (work in progress).
