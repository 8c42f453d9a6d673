//! courier-rabbitmq (work in progress).
