//! `evict generate`: synthetic data for trials and benchmarks.

use std::fs::File;
use std::io::BufWriter;
use std::time::Instant;

use anyhow::Context as _;
use evict_testkit::logs::{
    CloudTrailOptions, CloudTrailShape, ExportShape, LogTruth, OrgLogsOptions, write_org_logs,
};
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
    if args.logs > 0 {
        generate_logs(ctx, &args)?;
    }
    Ok(Outcome::Ok)
}

fn generate_logs(ctx: &Context, args: &GenerateArgs) -> anyhow::Result<()> {
    let shape = match args.cloudtrail_shape.as_str() {
        "s3" => CloudTrailShape::S3Objects {
            records_per_file: args.records_per_file.max(1),
        },
        "array" => CloudTrailShape::JsonArray,
        _ => CloudTrailShape::JsonLines,
    };
    let export = match args.export_shape.as_str() {
        "array" => ExportShape::JsonArray,
        _ => ExportShape::JsonLines,
    };
    let options = OrgLogsOptions {
        cloudtrail: CloudTrailOptions {
            shape,
            logstash_timestamps: args.logstash_timestamps,
        },
        export,
    };
    let started = Instant::now();
    let truth = write_org_logs(args.seed, args.logs, &options, &args.out)
        .with_context(|| format!("cannot write the logs under {}", args.out.display()))?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let logs: [&LogTruth; 3] = [&truth.cloudtrail, &truth.okta, &truth.github];
    for (path, log) in truth.paths.iter().zip(logs) {
        let attack = log.planted.iter().filter(|p| p.malicious).count();
        let files = if log.files > 1 {
            format!(" in {} files", log.files)
        } else {
            String::new()
        };
        let compressed = if log.bytes != log.json_bytes {
            format!(" ({:.1} MB of JSON)", log.json_bytes as f64 / 1e6)
        } else {
            String::new()
        };
        output::note(
            ctx.quiet,
            &format!(
                "{}: {} {} records, {:.1} MB{compressed}{files}; planted {} attack + {} look-alike",
                args.out.join(path).display(),
                log.events,
                log.source,
                log.bytes as f64 / 1e6,
                attack,
                log.planted.len() - attack,
            ),
        );
    }
    let json_bytes: u64 = logs.iter().map(|l| l.json_bytes).sum();
    output::note(
        ctx.quiet,
        &format!(
            "logs: {:.1} MB of JSON in {seconds:.2} s ({:.0} MB/s)",
            json_bytes as f64 / 1e6,
            json_bytes as f64 / 1e6 / seconds
        ),
    );
    if let Some(path) = &args.truth {
        let text = serde_json::to_string_pretty(&truth.to_json())?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        output::note(ctx.quiet, &format!("{}: ground truth", path.display()));
    }
    Ok(())
}
