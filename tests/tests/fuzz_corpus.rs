//! Replays every input of the fuzz corpora (`fuzz/corpus/<target>/`) through the functions
//! the fuzz targets call: what the fuzzers found once, including inputs that crashed before
//! a fix, is checked on every run without a fuzzer. See fuzz/README.md.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the corpus {} is empty", dir.display());
    inputs
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = corpus(target);
    for (path, bytes) in &inputs {
        if std::panic::catch_unwind(|| run(bytes)).is_err() {
            panic!("{target}: {} panics", path.display());
        }
    }
    println!("{target}: {} inputs replayed", inputs.len());
}

#[test]
fn zmtp_stream() {
    replay("zmtp_stream", courier_zeromq::fuzzing::zmtp_stream);
}

#[test]
fn zeromq_frames() {
    replay("zeromq_frames", courier_zeromq::fuzzing::courier_frames);
}

#[test]
fn rabbitmq_properties() {
    replay(
        "rabbitmq_properties",
        courier_rabbitmq::fuzzing::decode_delivery,
    );
}

#[test]
fn kafka_headers() {
    replay("kafka_headers", courier_kafka::fuzzing::decode_record);
}

#[test]
fn order_intake() {
    replay("order_intake", courier_contracts::fuzzing::order_intake);
}
