//! courier-config (work in progress).
