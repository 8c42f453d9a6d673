//! shop (work in progress).
