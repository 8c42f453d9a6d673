#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| courier_contracts::fuzzing::order_intake(data));
