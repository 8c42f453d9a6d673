//! courier-memory (work in progress).
