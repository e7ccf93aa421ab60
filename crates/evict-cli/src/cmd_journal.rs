//! `evict journal …`

use crate::args::{Format, JournalCommand};
use crate::{Context, Outcome, output};

pub async fn run(ctx: &Context, cmd: JournalCommand) -> anyhow::Result<Outcome> {
    match cmd {
        JournalCommand::Verify => {
            let store = ctx.open_store().await?;
            let report = store.journal_verify().await;
            store.close().await;
            let report = report?;
            match ctx.format {
                Format::Json => output::json(&report)?,
                Format::Table | Format::Sarif | Format::Md | Format::Html => {
                    match (&report.broken, &report.head) {
                        (Some(broken), _) => output::line(&format!(
                            "journal BROKEN at entry {}: {} ({} entries before it verified)",
                            broken.seq, broken.reason, report.entries
                        )),
                        (None, Some(head)) => output::line(&format!(
                            "journal intact: {} entries, head {head}",
                            report.entries
                        )),
                        (None, None) => output::line("journal intact: no entries"),
                    }
                }
            }
            Ok(if report.broken.is_some() {
                Outcome::Attention
            } else {
                Outcome::Ok
            })
        }
        JournalCommand::Show { subject, kind } => {
            let store = ctx.open_store().await?;
            let entries = store
                .journal_entries(subject.as_deref(), kind.as_deref())
                .await;
            store.close().await;
            let entries = entries?;
            match ctx.format {
                Format::Json => output::json(&entries)?,
                _ => {
                    let mut table = output::table(&["seq", "at", "kind", "subject", "body"]);
                    for e in &entries {
                        table.add_row(vec![
                            e.seq.to_string(),
                            e.at.clone(),
                            e.kind.clone(),
                            e.subject.clone(),
                            e.body.clone(),
                        ]);
                    }
                    output::print_table(&table);
                }
            }
            Ok(Outcome::Ok)
        }
    }
}
