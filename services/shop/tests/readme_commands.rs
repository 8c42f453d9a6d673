//! Every `cargo run -p PACKAGE` the README and the docs show runs one binary: it names it
//! with `--bin` (or an `--example`), or the package has one binary or a `default-run`.

use std::{collections::BTreeMap, path::Path, process::Command};

use serde_json::Value;

/// The package named by one `cargo run` command line, unless it names its binary.
fn package_without_bin(command: &str) -> Option<&str> {
    let args: Vec<&str> = command
        .split_whitespace()
        .take_while(|&arg| arg != "--")
        .collect();
    if args.iter().any(|&arg| arg == "--bin" || arg == "--example") {
        return None;
    }
    let at = args.iter().position(|&arg| arg == "-p")?;
    args.get(at + 1).copied()
}

/// For each workspace package: its binaries and its `default-run`, from `cargo metadata`.
fn binaries(root: &Path) -> BTreeMap<String, (Vec<String>, Option<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    packages
        .iter()
        .map(|package| {
            let bins = package["targets"]
                .as_array()
                .expect("a target list")
                .iter()
                .filter(|target| {
                    target["kind"]
                        .as_array()
                        .is_some_and(|k| k.contains(&"bin".into()))
                })
                .map(|target| target["name"].as_str().expect("a name").to_owned())
                .collect();
            let default_run = package["default_run"].as_str().map(str::to_owned);
            let name = package["name"].as_str().expect("a name").to_owned();
            (name, (bins, default_run))
        })
        .collect()
}

#[test]
fn every_documented_cargo_run_picks_one_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ is there") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            texts.push(path);
        }
    }
    let packages = binaries(&root);
    let mut checked = 0;
    for path in texts {
        let text = std::fs::read_to_string(&path).expect("a readable doc");
        for line in text.lines() {
            let Some(at) = line.find("cargo run") else {
                continue;
            };
            let Some(package) = package_without_bin(&line[at..]) else {
                continue;
            };
            let (bins, default_run) = packages.get(package).unwrap_or_else(|| {
                panic!(
                    "{}: `{line}` names no package of the workspace",
                    path.display()
                )
            });
            let picked = match default_run {
                Some(default) => bins.contains(default),
                None => bins.len() == 1,
            };
            assert!(
                picked,
                "{}: `{line}` cannot pick one of {bins:?} (no --bin, no default-run)",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the README shows `cargo run -p shop -- demo`");
}

#[test]
fn a_command_that_names_its_binary_is_left_alone() {
    assert_eq!(
        package_without_bin("cargo run --release -p shop -- demo"),
        Some("shop")
    );
    assert_eq!(
        package_without_bin("cargo run -p shipping --bin shipping-service -- --config x"),
        None
    );
    assert_eq!(
        package_without_bin("cargo run --release -p courier-memory --example memory_throughput"),
        None
    );
    assert_eq!(package_without_bin("cargo run -- -p shop"), None);
}
