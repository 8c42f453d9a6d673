//! The README's "Writing a service" blocks are this example's files (without their `//!`
//! header), so the README shows code that builds, runs and is tested.

use std::path::Path;

/// `path`'s text from its first line that is not a `//!` comment or blank.
fn without_header(path: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("reads {path}: {e}"));
    text.lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Rust code blocks of the README's section `heading`.
fn rust_blocks(heading: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("reads the README");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("the README has a section {heading:?}"));
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("```rust") {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

#[test]
fn the_readme_shows_the_example_as_it_is() {
    let blocks = rust_blocks("Writing a service");
    assert_eq!(
        blocks.len(),
        2,
        "two Rust blocks: the library and the binary"
    );
    assert_eq!(
        blocks[0],
        without_header("src/lib.rs")
            .split("\n\n/// The README's code blocks")
            .next()
            .unwrap_or_default()
    );
    assert_eq!(blocks[1], without_header("src/main.rs"));
}
