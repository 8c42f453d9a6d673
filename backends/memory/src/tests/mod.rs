//! Unit tests of the tricky parts: routing, capacity, lifecycle.

mod capacity;
mod lifecycle;
mod routing;
mod support;
