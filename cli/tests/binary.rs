//! The `courier` binary itself: a bad command line, a bad configuration and an unreachable
//! broker each end with exit code 2 and one line on standard error, without a password.

use std::process::{Command, Output};

fn courier(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_courier"));
    command
        .args(args)
        .env_remove("COURIER_CONFIG")
        .env_remove("RUST_LOG");
    // Nothing from the environment of the test run reaches the tool but what is set here.
    for (name, _) in std::env::vars() {
        if name.starts_with("COURIER_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    // A directory without config/courier.toml, so the defaults apply.
    command.current_dir(std::env::temp_dir());
    command.output().expect("the binary runs")
}

fn one_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {:?}",
        output.stdout
    );
    stderr
}

#[test]
fn a_bad_argument_exits_2_with_one_line() {
    for args in [
        &["dlq", "list", "orders", "--bogus"][..],
        &["send", "t", "--header", "no-equals-sign"],
        &["dlq", "list", "orders", "--idle", "soon"],
        &["dlq"],
        &[],
    ] {
        let output = courier(args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let line = one_error_line(&output);
        assert!(line.contains("courier --help"), "{line}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let output = courier(&["--help"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["dlq", "send", "tail"] {
        assert!(help.contains(command), "{help}");
    }
    assert_eq!(courier(&["--version"], &[]).status.code(), Some(0));
}

#[test]
fn an_unreachable_broker_exits_2_with_one_line_and_no_password() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("an address").port()
    };
    let url = format!("amqp://guest:s3cret-pw@127.0.0.1:{closed_port}/%2f");
    let output = courier(
        &["dlq", "list", "orders"],
        &[
            ("COURIER_BROKER__KIND", "rabbitmq"),
            ("COURIER_BROKER__RABBITMQ__URL", &url),
            ("COURIER_BROKER__RABBITMQ__CONNECT_TIMEOUT_MS", "2000"),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let line = one_error_line(&output);
    assert!(
        line.contains("cannot connect to the rabbitmq broker"),
        "{line}"
    );
    assert!(!line.contains("s3cret-pw"), "the password is shown: {line}");
}

#[test]
fn a_bad_config_and_the_memory_backend_exit_2_with_one_line() {
    let output = courier(&["tail", "t"], &[("COURIER_BROKER__KIND", "rabbit")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let line = one_error_line(&output);
    assert!(line.contains("broker.kind"), "{line}");

    let output = courier(&["dlq", "list", "t"], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let line = one_error_line(&output);
    assert!(line.contains("\"memory\""), "{line}");

    let output = courier(
        &["--config", "/nonexistent/courier.toml", "dlq", "list", "t"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    one_error_line(&output);
}
