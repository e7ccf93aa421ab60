//! `evict generate`: synthetic data for trials and benchmarks.

use std::fs::File;
use std::io::BufWriter;

use anyhow::Context as _;
use evict_testkit::{InventoryFormat, write_credential_report, write_inventory};

use crate::args::GenerateArgs;
use crate::{Context, Outcome, output};

pub fn run(ctx: &Context, args: GenerateArgs) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if args.users > 0 {
        let path = args.out.join("credential-report.csv");
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        let truth = write_credential_report(args.seed, args.users, &mut out)?;
        std::io::Write::flush(&mut out)?;
        output::note(
            ctx.quiet,
            &format!("{}: {} users", path.display(), truth.users),
        );
    }
    if args.inventory_rows > 0 {
        let (name, format) = if args.jsonl {
            ("inventory.jsonl", InventoryFormat::JsonLines)
        } else {
            ("inventory.csv", InventoryFormat::Csv)
        };
        let path = args.out.join(name);
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        );
        let truth = write_inventory(args.seed, args.inventory_rows, format, &mut out)?;
        std::io::Write::flush(&mut out)?;
        output::note(
            ctx.quiet,
            &format!("{}: {} rows", path.display(), truth.rows),
        );
    }
    Ok(Outcome::Ok)
}
