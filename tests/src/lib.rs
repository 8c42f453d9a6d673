//! courier-tests (work in progress).
