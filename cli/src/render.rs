//! Plain-text output: the table of dead letters and one dead letter in full.

use std::io::{self, Write};

use crate::{
    letter::{DeadLetter, ShownLetter},
    payload::escape_controls,
};

/// The widest a reason is shown in a table; longer ones end with `…`.
const REASON_WIDTH: usize = 60;

/// Writes `letters` as a table with a header line: id, key, reason, kind, attempts, group
/// and time, `-` for what is missing.
///
/// # Errors
/// When writing fails.
pub fn table(out: &mut dyn Write, letters: &[DeadLetter]) -> io::Result<()> {
    let header = ["ID", "KEY", "REASON", "KIND", "ATTEMPTS", "GROUP", "TIME"].map(str::to_owned);
    let rows: Vec<[String; 7]> = letters.iter().map(row).collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn row(letter: &DeadLetter) -> [String; 7] {
    let or_dash = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), escape_controls);
    [
        escape_controls(&letter.id),
        or_dash(letter.key.as_deref()),
        shorten(&or_dash(letter.reason.as_deref()), REASON_WIDTH),
        or_dash(letter.kind.as_deref()),
        letter
            .attempts
            .map_or_else(|| "-".to_owned(), |a| a.to_string()),
        or_dash(letter.group.as_deref()),
        or_dash(letter.time.as_deref()),
    ]
}

/// `text` cut to `width` characters, ending with `…` when cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Writes one dead letter in full: its fields, every header, then the payload.
///
/// # Errors
/// When writing fails.
pub fn letter(out: &mut dyn Write, shown: &ShownLetter) -> io::Result<()> {
    let l = &shown.letter;
    let fields = [
        ("id", Some(l.id.clone())),
        ("key", l.key.clone()),
        ("topic", l.topic.clone()),
        ("group", l.group.clone()),
        ("kind", l.kind.clone()),
        ("attempts", l.attempts.map(|a| a.to_string())),
        ("time", l.time.clone()),
        ("reason", l.reason.clone()),
    ];
    for (name, value) in fields {
        let value = value
            .as_deref()
            .map_or_else(|| "-".to_owned(), escape_controls);
        writeln!(out, "{name:<9} {value}")?;
    }
    writeln!(out, "headers:")?;
    for (name, value) in &shown.headers {
        writeln!(
            out,
            "  {}: {}",
            escape_controls(name),
            escape_controls(value)
        )?;
    }
    let p = &shown.payload;
    writeln!(out, "payload ({} bytes, {}):", p.bytes, p.encoding)?;
    writeln!(out, "{}", p.data)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use courier_core::{Message, headers};

    use super::*;

    #[test]
    fn a_table_lines_up_and_shows_what_is_missing() {
        let full = Message::new("x")
            .with_id("id-1")
            .with_key("k")
            .with_header(headers::DLQ_REASON, "r".repeat(80))
            .with_header(headers::DLQ_KIND, "exhausted")
            .with_header(headers::DLQ_ATTEMPTS, "5")
            .with_header(headers::DLQ_GROUP, "billing")
            .with_header(headers::DLQ_AT, "0");
        let bare = Message::new("y").with_id("id-22");
        let mut out = Vec::new();
        table(&mut out, &[DeadLetter::of(&full), DeadLetter::of(&bare)]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID     KEY  REASON"), "{text}");
        assert!(lines[1].contains(&format!("{}…", "r".repeat(59))), "{text}");
        assert!(
            lines[1].ends_with("billing  1970-01-01T00:00:00.000Z"),
            "{text}"
        );
        assert!(lines[2].starts_with("id-22  -    -"), "{text}");
    }

    #[test]
    fn a_letter_shows_headers_and_payload() {
        let message = Message::new("line one\nline two")
            .with_id("m")
            .with_header(headers::DLQ_REASON, "bad\nthing");
        let mut out = Vec::new();
        letter(&mut out, &ShownLetter::of(&message)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("reason    bad\\nthing\n"), "{text}");
        assert!(
            text.contains("  courier-dlq-reason: bad\\nthing\n"),
            "{text}"
        );
        assert!(
            text.ends_with("payload (17 bytes, utf8):\nline one\nline two\n"),
            "{text}"
        );
    }
}
