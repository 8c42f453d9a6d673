//! `shop config`: prints the effective configuration with every secret as `***`, says when it
//! connects to the broker, and does not with `--offline`.

use std::process::Command;

#[test]
fn shop_config_hides_secrets_and_connects_only_when_asked() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("courier.toml");
    std::fs::write(
        &file,
        "[broker]\nkind = \"zeromq\"\n[broker.zeromq]\nendpoint = \"tcp://127.0.0.1:0\"\n\
         secret = \"hunter2/s3c\"\n[store]\nurl = \"postgres://shop:hunter2@s3c@127.0.0.1/shop\"\n",
    )
    .expect("writes the config");
    let run = |offline: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
        command.arg("config").arg("--config").arg(&file);
        if offline {
            command.arg("--offline");
        }
        let output = command.output().expect("runs shop");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{text}");
        assert!(!text.contains("hunter2"), "a secret leaked: {text}");
        assert!(text.contains("secret = \"***\""), "{text}");
        assert!(
            text.contains("postgres://shop:***@127.0.0.1/shop"),
            "{text}"
        );
        text
    };
    let offline = run(true);
    assert!(!offline.contains("connecting"), "{offline}");
    let online = run(false);
    assert!(
        online.contains("connecting to the zeromq broker"),
        "{online}"
    );
    assert!(online.contains("guarantees:"), "{online}");
}
