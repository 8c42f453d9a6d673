//! A service binary that gets SIGTERM while it is still starting (here: waiting for a ZeroMQ
//! binding side that never answers) stops at once with exit status 0, instead of being killed
//! by the signal or waiting out its connect timeout.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use courier_tests::saga::processes::ServiceBinaries;
use tokio::process::Command;

/// A config whose broker is a ZeroMQ binding side on a port nobody listens on, with a connect
/// timeout far longer than the test.
fn unreachable_config() -> String {
    let port = courier_tests::ports::free_port().expect("a free port");
    format!(
        "[broker]\nkind = \"zeromq\"\n\n[broker.zeromq]\nendpoint = \"tcp://127.0.0.1:{port}\"\n\
         bind = false\nconnect_timeout_ms = 120000\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_start_up_stops_each_service_cleanly() {
    let bins = ServiceBinaries::locate_or_build()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("courier.toml");
    std::fs::write(&config, unreachable_config()).expect("writes the config");
    for bin in [&bins.inventory, &bins.payment, &bins.order] {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .env(
                "COURIER_STORE__URL",
                format!("sqlite://{}/{{service}}.db", dir.path().display()),
            )
            .env("RUST_LOG", "info")
            .env_remove("COURIER_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the service starts");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "{} ended before the signal",
            bin.display()
        );
        let pid = child.id().expect("a pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let signalled = Instant::now();
        let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{} ignored SIGTERM for 20 s", bin.display()))
            .expect("waits");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{} exited with {} after SIGTERM during start-up\n{log}",
            bin.display(),
            output.status
        );
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "{} took {:?} to stop\n{log}",
            bin.display(),
            signalled.elapsed()
        );
    }
}
