//! Helpers shared by the backend test runs: broker presence and fresh names.

/// Whether an absent broker must fail the run rather than skip it: `CI=true` or
/// `COURIER_REQUIRE_BROKERS=1`.
pub fn brokers_required() -> bool {
    let set =
        |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    set("CI", "true") || set("COURIER_REQUIRE_BROKERS", "1")
}

/// Reports that `backend`'s broker is not reachable: panics when brokers are required (CI),
/// otherwise prints a skip notice. Call it, then return from the test.
///
/// # Panics
/// When [`brokers_required`] is true.
pub fn broker_absent(backend: &str, why: &str) {
    if brokers_required() {
        panic!(
            "{backend} broker required (CI=true or COURIER_REQUIRE_BROKERS=1) but absent: {why}"
        );
    }
    eprintln!(
        "SKIP {backend}: broker absent ({why}); set COURIER_REQUIRE_BROKERS=1 to make this a failure"
    );
}

/// A fresh name with `prefix`, unique per call and per run: `prefix-<uuid v4 simple>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
