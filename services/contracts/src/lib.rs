//! courier-contracts (work in progress).
