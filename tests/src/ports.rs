//! Free loopback ports for the tests' services and brokers.

use std::{
    collections::BTreeSet,
    net::TcpListener,
    sync::{Mutex, PoisonError},
};

/// A TCP port free on 127.0.0.1 now and not handed out before by this process.
///
/// The listener that finds the port is closed before the caller binds it, so the kernel may
/// offer the same port to the next bind to port 0: two services of one test once got the
/// same one. Remembering what was handed out keeps the ports of one test process apart
/// (another process may still take the port in between).
///
/// # Errors
/// When no port can be bound, or 100 binds in a row offer only ports handed out before.
pub fn free_port() -> Result<u16, String> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        if given.insert(port) {
            return Ok(port);
        }
    }
    Err("no free port: 100 binds offered only ports handed out before".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_handed_out_are_distinct() {
        let ports: Vec<u16> = (0..200).map(|_| free_port().expect("a port")).collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }
}
