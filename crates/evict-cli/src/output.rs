//! Everything the binary prints goes through here: tables, JSON, notes and errors.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::{Arc, Mutex};

use comfy_table::{ContentArrangement, Table, presets};
use jiff::Timestamp;
use serde::Serialize;

tokio::task_local! {
    /// Set while a command runs inside [`capture`]: what it would print on stdout.
    static CAPTURED: Arc<Mutex<Vec<serde_json::Value>>>;
}

/// Runs a command's future with its stdout captured instead of printed: each JSON document it
/// prints as a value, each line or table as a string. `evict demo --live --format json` runs
/// the commands of its story this way and puts their answers in its own one document.
/// Notes and errors still go to stderr.
pub async fn capture<F: std::future::Future>(f: F) -> (F::Output, Vec<serde_json::Value>) {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let result = CAPTURED.scope(sink.clone(), f).await;
    let captured = std::mem::take(&mut *sink.lock().unwrap_or_else(|e| e.into_inner()));
    (result, captured)
}

/// Keeps `value` when a capture is running; false when it should be printed.
fn captured(value: impl FnOnce() -> serde_json::Value) -> bool {
    CAPTURED
        .try_with(|sink| {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(value());
        })
        .is_ok()
}

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
    if captured(|| text.into()) {
        return;
    }
    out(format_args!("{text}"));
}

/// One JSON document on stdout, written as it is serialised (an incident's residual set is
/// tens of megabytes; building it as one string first would double the memory).
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut failed = None;
    if captured(|| {
        serde_json::to_value(value).unwrap_or_else(|e| {
            let message = e.to_string();
            failed = Some(e);
            message.into()
        })
    }) {
        return failed.map_or(Ok(()), |e| Err(e.into()));
    }
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
    if captured(|| table.to_string().into()) {
        return;
    }
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
