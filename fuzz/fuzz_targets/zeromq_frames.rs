#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| courier_zeromq::fuzzing::courier_frames(data));
