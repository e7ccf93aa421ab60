//! `evict import …`

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use evict_store::RejectedRow;
use evict_store::import::{ImportKind, ImportObserver, ImportSummary, import_file};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{Format, ImportCommand};
use crate::{Context, Outcome, output};

/// Rejected rows printed one by one before the rest are only counted.
const REJECTIONS_SHOWN: u64 = 50;

/// Draws progress on a terminal (never when piped) and prints rejected rows as they come.
struct Reporter {
    bar: ProgressBar,
    file: String,
    shown: Mutex<u64>,
    quiet: bool,
}

impl Reporter {
    fn new(path: &Path, quiet: bool) -> Reporter {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(path.display().to_string());
        Reporter {
            bar,
            file: path.display().to_string(),
            shown: Mutex::new(0),
            quiet,
        }
    }
}

impl ImportObserver for Reporter {
    fn progress(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    fn rejected(&self, row: &RejectedRow) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        *shown += 1;
        if *shown <= REJECTIONS_SHOWN {
            self.bar.suspend(|| {
                output::error(&format!(
                    "{}:{}: rejected: {}",
                    self.file, row.line, row.reason
                ))
            });
        }
    }

    fn warning(&self, message: &str) {
        if !self.quiet {
            self.bar
                .suspend(|| output::note(false, &format!("warning: {message}")));
        }
    }
}

pub async fn run(ctx: &Context, cmd: ImportCommand) -> anyhow::Result<Outcome> {
    let (kind, args) = match cmd {
        ImportCommand::AwsCredentialReport(args) => (ImportKind::AwsCredentialReport, args),
        ImportCommand::Inventory(args) => (ImportKind::Inventory, args),
    };
    let store = ctx.open_store().await?;
    let mut summaries = Vec::new();
    for path in &args.files {
        let summary = import_one(ctx, &store, kind, path).await;
        let summary = match summary {
            Ok(s) => s,
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        summaries.push(summary);
    }
    store.close().await;
    match ctx.format {
        Format::Json => output::json(&summaries)?,
        Format::Table | Format::Sarif | Format::Md | Format::Html => {
            let mut table = output::table(&[
                "file",
                "rows",
                "inserted",
                "updated",
                "unchanged",
                "rejected",
            ]);
            for s in &summaries {
                table.add_row(vec![
                    s.file.clone(),
                    s.rows.to_string(),
                    s.inserted.to_string(),
                    s.updated.to_string(),
                    s.unchanged.to_string(),
                    s.rejected.to_string(),
                ]);
            }
            output::print_table(&table);
        }
    }
    let rejected: u64 = summaries.iter().map(|s| s.rejected).sum();
    if rejected > 0 {
        output::note(
            ctx.quiet,
            &format!(
                "{rejected} row(s) rejected; the other rows were imported. Fix the rows above and import again: accepted rows will show as unchanged."
            ),
        );
        return Ok(Outcome::Attention);
    }
    Ok(Outcome::Ok)
}

async fn import_one(
    ctx: &Context,
    store: &evict_store::Store,
    kind: ImportKind,
    path: &Path,
) -> anyhow::Result<ImportSummary> {
    let reporter = Reporter::new(path, ctx.quiet);
    let result = import_file(store, kind, path, ctx.now, &reporter).await;
    reporter.bar.finish_and_clear();
    let summary = result.with_context(|| format!("import {} stopped", kind.name()))?;
    let hidden = summary.rejected.saturating_sub(REJECTIONS_SHOWN);
    if hidden > 0 {
        output::error(&format!(
            "{}: … and {hidden} more rejected row(s) not shown",
            summary.file
        ));
    }
    Ok(summary)
}
