//! Raw ZMTP 3.0 bytes, for tests that play a hostile or misbehaving ZeroMQ peer over a plain
//! TCP stream: the greeting, the READY command and message frames.

/// A ZMTP 3.0 greeting with the NULL mechanism, as a client sends it.
pub fn greeting() -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend(mechanism);
    g.push(0); // as-server
    g.resize(64, 0);
    g
}

/// The READY command of a DEALER socket.
pub fn ready_dealer() -> Vec<u8> {
    let mut body = vec![5];
    body.extend(b"READY");
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend(6u32.to_be_bytes());
    body.extend(b"DEALER");
    let mut command = vec![0x04, u8::try_from(body.len()).expect("a short command")];
    command.extend(body);
    command
}

/// One multipart message of short frames (each under 256 bytes).
pub fn message(frames: &[&[u8]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let more = if i + 1 < frames.len() { 0x01 } else { 0x00 };
        bytes.push(more);
        bytes.push(u8::try_from(frame.len()).expect("a short frame"));
        bytes.extend(*frame);
    }
    bytes
}
