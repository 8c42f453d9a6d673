//! `shop asyncapi`: the committed docs/asyncapi.yaml is what the command prints today; the
//! document of every backend's config passes @asyncapi/parser (tools/asyncapi, installed by
//! `scripts/asyncapi.sh install`) without an error or a warning and names every topic of the
//! saga with its dead-letter topic, and every example matches its schemas; broken documents
//! are rejected by the same validator; a bad config exits with code 2 and one line.
//!
//! Without Node.js or the installed parser the validation tests print a notice and pass,
//! unless `CI=true` or `COURIER_REQUIRE_BROKERS=1`, where they fail.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// The configs the tests generate documents for: one per backend.
const CONFIGS: [&str; 4] = [
    "config/courier.toml",
    "config/rabbitmq.toml",
    "config/kafka.toml",
    "config/zeromq.toml",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `shop` with `args` from the workspace root, without any `COURIER_*` variable.
fn shop(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
    command.args(args).current_dir(root());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("COURIER_") {
            command.env_remove(name);
        }
    }
    command.output().expect("runs shop")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The document `shop asyncapi --config <config> --format <format>` prints.
fn generate(config: &str, format: &str) -> String {
    let output = shop(&["asyncapi", "--config", config, "--format", format]);
    assert!(output.status.success(), "{config}: {}", text(&output));
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("COURIER_REQUIRE_BROKERS").is_ok_and(|v| v == "1")
}

/// `node` and tools/asyncapi/validate.mjs with its installed parser, or `None` after a notice
/// (a failure when they are required).
fn validator() -> Option<PathBuf> {
    let tool = root().join("tools/asyncapi");
    let node = Command::new("node").arg("--version").output();
    let problem = match node {
        Err(e) => Some(format!("node cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!("node --version failed: {}", text(&o))),
        Ok(_)
            if !tool
                .join("node_modules/@asyncapi/parser/package.json")
                .exists() =>
        {
            Some(
                "@asyncapi/parser is not installed in tools/asyncapi (scripts/asyncapi.sh install)"
                    .to_owned(),
            )
        }
        Ok(_) => None,
    };
    match problem {
        None => Some(tool.join("validate.mjs")),
        Some(problem) if required() => {
            panic!("the AsyncAPI validator is required (CI or COURIER_REQUIRE_BROKERS): {problem}")
        }
        Some(problem) => {
            eprintln!("SKIPPED: AsyncAPI validation: {problem}");
            None
        }
    }
}

/// Runs the validator with `--strict` (warnings fail too) on `document`.
fn validate(script: &Path, document: &Path) -> Output {
    Command::new("node")
        .arg(script)
        .arg("--strict")
        .arg(document)
        .output()
        .expect("runs node")
}

#[test]
fn the_committed_document_is_what_the_command_generates() {
    let committed = std::fs::read_to_string(root().join("docs/asyncapi.yaml"))
        .expect("docs/asyncapi.yaml is committed");
    let generated = generate("config/courier.toml", "yaml");
    assert!(
        committed == generated,
        "docs/asyncapi.yaml is stale; regenerate it with\n  \
         cargo run -p shop -- asyncapi --config config/courier.toml > docs/asyncapi.yaml"
    );
}

#[test]
fn yaml_and_json_say_the_same() {
    let yaml: Value = serde_norway::from_str(&generate("config/kafka.toml", "yaml")).expect("YAML");
    let json: Value = serde_json::from_str(&generate("config/kafka.toml", "json")).expect("JSON");
    assert_eq!(yaml, json);
}

/// Every `(address, action)` of the operations of `doc`.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let channels = &doc["channels"];
    doc["operations"]
        .as_object()
        .expect("operations")
        .values()
        .map(|op| {
            let reference = op["channel"]["$ref"].as_str().expect("a channel $ref");
            let id = reference.trim_start_matches("#/channels/");
            let address = channels[id]["address"].as_str().expect("an address");
            (
                address.to_owned(),
                op["action"].as_str().expect("an action").to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_backend_document_is_valid_and_names_every_topic_with_its_dead_letters() {
    let validator = validator();
    let dir = tempfile::tempdir().expect("a temp dir");
    let topics = courier_contracts::SagaTopics::default();
    for config in CONFIGS {
        let text_doc = generate(config, "json");
        let doc: Value = serde_json::from_str(&text_doc).expect("JSON");
        assert_eq!(doc["asyncapi"], "3.0.0");
        let addresses: Vec<&str> = doc["channels"]
            .as_object()
            .expect("channels")
            .values()
            .map(|c| c["address"].as_str().expect("an address"))
            .collect();
        let ops = operations(&doc);
        let receives = ops.iter().filter(|(_, action)| action == "receive").count();
        assert_eq!(receives, topics.routes().len(), "{config}: one per handler");
        for (topic, group) in topics.routes() {
            let dlq = format!("{topic}.dlq");
            assert!(addresses.contains(&topic), "{config}: no channel {topic}");
            assert!(
                addresses.contains(&dlq.as_str()),
                "{config}: no channel {dlq}"
            );
            assert!(
                ops.contains(&(dlq.clone(), "send".into())),
                "{config}: nothing sends to {dlq}"
            );
            if config.contains("rabbitmq") {
                let queue = if topic == "order_queue" {
                    "order_queue".to_owned()
                } else {
                    format!("{topic}.{group}")
                };
                assert!(
                    ops.contains(&(queue.clone(), "receive".into())),
                    "{config}: group {group} does not read queue {queue}"
                );
            } else {
                assert!(
                    ops.contains(&(topic.to_owned(), "receive".into())),
                    "{config}: nothing receives {topic}"
                );
            }
        }
        for topic in [
            &topics.order_placed,
            &topics.stock_reserved,
            &topics.stock_rejected,
            &topics.payment_succeeded,
            &topics.payment_failed,
        ] {
            assert!(
                ops.contains(&(topic.clone(), "send".into())),
                "{config}: no service sends to {topic}"
            );
        }
        let headers = &doc["components"]["schemas"]["DeadLetterHeaders"]["properties"];
        for name in courier_core::headers::DLQ_HEADERS {
            assert!(headers[name].is_object(), "{config}: no header {name}");
        }
        let Some(script) = &validator else { continue };
        let path = dir
            .path()
            .join(Path::new(config).file_stem().expect("a name"))
            .with_extension("json");
        std::fs::write(&path, &text_doc).expect("writes the document");
        let output = validate(script, &path);
        assert!(
            output.status.success(),
            "{config}: the validator rejects the document:\n{}",
            text(&output)
        );
        assert!(
            text(&output).contains("0 errors, 0 warnings"),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn the_validator_rejects_broken_documents() {
    let Some(script) = validator() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let good: Value = serde_json::from_str(&generate("config/courier.toml", "json")).expect("JSON");
    let mut dangling = good.clone();
    dangling["operations"]["order_receives_order_intake"]["channel"]["$ref"] =
        "#/channels/no_such_channel".into();
    let mut misspelt = good.clone();
    misspelt["channels"]["order_placed"]["messages"]["OrderPlaced"]["$ref"] =
        "#/components/messages/OrderPlacd".into();
    let mut old_action = good.clone();
    old_action["operations"]["order_sends_order_placed"]["action"] = "publish".into();
    let mut bad_example = good;
    bad_example["components"]["messages"]["OrderPlaced"]["examples"][0]["payload"]["lines"] =
        serde_json::json!([]);
    for (name, doc, expected) in [
        ("dangling", dangling, "no_such_channel"),
        ("misspelt", misspelt, "OrderPlacd"),
        ("old-action", old_action, "action"),
        ("bad-example", bad_example, "example-mismatch"),
    ] {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string(&doc).expect("JSON")).expect("writes");
        let output = validate(&script, &path);
        let said = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name} was accepted:\n{said}"
        );
        assert!(said.contains("error:"), "{name}: {said}");
        assert!(said.contains(expected), "{name}: {said}");
    }
}

#[test]
fn a_bad_config_exits_2_with_one_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[broker]\nkind = \"carrier-pigeon\"\n").expect("writes the config");
    let output = shop(&["asyncapi", "--config", file.to_str().expect("UTF-8 path")]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}
