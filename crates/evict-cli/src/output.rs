//! Everything the binary prints goes through here: tables, JSON, notes and errors.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use comfy_table::{ContentArrangement, Table, presets};
use jiff::Timestamp;
use serde::Serialize;

/// An error line on stderr.
pub fn error(message: &str) {
    eprintln!("error: {message}");
}

/// A note on stderr for people (suppressed by --quiet).
pub fn note(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("{message}");
    }
}

/// Writes to stdout. A reader that went away (`evict … | head`) ends the program quietly,
/// as for any Unix filter, instead of a panic.
fn out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        write_failed(&e);
    }
}

fn write_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to stdout: {e}");
    std::process::exit(2);
}

/// A line on stdout.
pub fn line(text: &str) {
    out(format_args!("{text}"));
}

/// One JSON document on stdout, written as it is serialised (an incident's residual set is
/// tens of megabytes; building it as one string first would double the memory).
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match serde_json::to_writer_pretty(&mut stdout, value) {
        Ok(()) => {}
        Err(e) if e.is_io() => write_failed(&std::io::Error::from(e)),
        Err(e) => return Err(e.into()),
    }
    if let Err(e) = stdout.write_all(b"\n").and_then(|()| stdout.flush()) {
        write_failed(&e);
    }
    Ok(())
}

/// A table with a header, sized to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.iter().copied());
    table
}

/// Prints a table on stdout.
pub fn print_table(table: &Table) {
    out(format_args!("{table}"));
}

/// A time as a date for tables; `-` when unknown.
pub fn date(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// An optional text for tables; `-` when missing.
pub fn opt(text: Option<&str>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or("-").to_string()
}
