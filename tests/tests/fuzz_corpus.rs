//! Replays every input of the fuzz corpora (`fuzz/corpus/<target>/`, and the known past
//! crashes in `fuzz/regressions/<target>/`) through the functions
//! the fuzz targets call: what the fuzzers found once, including inputs that crashed before
//! a fix, is checked on every run without a fuzzer. See fuzz/README.md.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let dir = fuzz.join("corpus").join(target);
    let mut inputs =
        read_dir(&dir).unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()));
    assert!(!inputs.is_empty(), "the corpus {} is empty", dir.display());
    // Known past crashes, kept apart so that minimising the corpus never drops them.
    inputs.extend(read_dir(&fuzz.join("regressions").join(target)).unwrap_or_default());
    inputs.sort();
    inputs
}

fn read_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    std::fs::read_dir(dir)?
        .map(|entry| {
            let path = entry?.path();
            let bytes = std::fs::read(&path)?;
            Ok((path, bytes))
        })
        .collect()
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
