//! `evict`: the command line. It parses arguments, opens the store, calls the libraries and
//! prints; every capability lives in a library crate.

mod args;
mod cmd_contain;
mod cmd_demo;
mod cmd_generate;
mod cmd_hunt;
mod cmd_import;
mod cmd_incident;
mod cmd_inventory;
mod cmd_journal;
mod cmd_keys;
mod cmd_rules;
mod cmd_scan;
mod cmd_sync;
mod demo_live;
mod handed;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// How a command ended, beyond success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked.
    Ok,
    /// Done, but something needs attention (rejected rows, a broken journal).
    Attention,
}

/// Run-wide settings every command gets.
#[derive(Debug)]
pub struct Context {
    pub format: args::Format,
    pub quiet: bool,
    pub now: jiff::Timestamp,
    /// `$EVICT_HOME`: the SQLite store, the fingerprint key, connectors.toml.
    pub home: evict_store::EvictHome,
    /// `EVICT_DATABASE_URL`: the store on PostgreSQL instead of SQLite under `home`.
    pub database_url: Option<String>,
}

impl Context {
    /// Opens the store the context names.
    pub async fn open_store(&self) -> anyhow::Result<evict_store::Store> {
        Ok(match &self.database_url {
            Some(url) => evict_store::Store::open_url(url).await?,
            None => evict_store::Store::open_sqlite(&self.home).await?,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let now = match cli
        .now
        .as_deref()
        .map(str::parse::<jiff::Timestamp>)
        .transpose()
    {
        Ok(now) => now.unwrap_or_else(jiff::Timestamp::now),
        Err(e) => {
            output::error(&format!("--now / EVICT_NOW: not an RFC 3339 time: {e}"));
            return ExitCode::from(2);
        }
    };
    let page = matches!(cli.format, args::Format::Md | args::Format::Html);
    if page
        && !matches!(
            cli.command,
            Command::Incident(
                args::IncidentCommand::Plan { .. } | args::IncidentCommand::Report { .. }
            )
        )
    {
        output::error(
            "--format md and html are for `evict incident plan` and `report`; use table or json here",
        );
        return ExitCode::from(2);
    }
    if cli.format == args::Format::Sarif && !matches!(cli.command, Command::Scan(_)) {
        output::error("--format sarif is for `evict scan`; use table or json here");
        return ExitCode::from(2);
    }
    let ctx = Context {
        format: cli.format,
        quiet: cli.quiet,
        now,
        home: evict_store::EvictHome::from_env(),
        database_url: std::env::var("EVICT_DATABASE_URL")
            .ok()
            .map(|url| url.trim().to_string())
            .filter(|url| !url.is_empty()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Import(cmd) => cmd_import::run(&ctx, cmd).await,
            Command::Inventory(cmd) => cmd_inventory::run(&ctx, cmd).await,
            Command::Journal(cmd) => cmd_journal::run(&ctx, cmd).await,
            Command::Scan(args) => cmd_scan::run(&ctx, args).await,
            Command::Hunt(args) => cmd_hunt::run(&ctx, args).await,
            Command::Rules(cmd) => cmd_rules::run(&ctx, cmd),
            Command::Incident(cmd) => cmd_incident::run(&ctx, cmd).await,
            Command::Sync(args) => cmd_sync::run(&ctx, args).await,
            Command::Keys(cmd) => cmd_keys::keys(&ctx, cmd),
            Command::Report(cmd) => cmd_keys::report(&ctx, cmd),
            Command::Demo(args) => cmd_demo::run(&ctx, args).await,
            Command::Generate(args) => cmd_generate::run(&ctx, args),
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Attention) => ExitCode::from(1),
        Err(e) => {
            output::error(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}
