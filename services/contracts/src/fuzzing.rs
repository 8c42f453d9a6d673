//! Entry points for the fuzz targets and the corpus replay test: not part of the API.

use crate::{OrderIntake, check_id};

/// Reads `data` as an order on the intake topic (or `POST /orders`) and turns it into a
/// request as the order service does, checking what a request promises. Never panics.
pub fn order_intake(data: &[u8]) {
    let Ok(intake) = serde_json::from_slice::<OrderIntake>(data) else {
        return;
    };
    if let Ok(request) = intake.into_request_with(|| "fallback-id".to_owned(), 100) {
        assert!(check_id("order_id", &request.order_id).is_ok());
        assert!(!request.lines.is_empty() && request.lines.len() <= 100);
    }
}
