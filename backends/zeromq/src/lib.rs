//! courier-zeromq (work in progress).
