//! The command line: every command, its arguments and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::alerts_cmd::{AlertsCommand, NotifyCommand};
use crate::analytics_cmd::AnalyticsCommand;
use crate::auth_cmd::{TokenCommand, UserCommand};
use crate::bench::BenchCommand;
use crate::report_cmd::ReportArgs;
use crate::slo_cmd::SloArgs;

/// wfmon: a self-hosted synthetic workflow monitor.
///
/// Every command that touches the database picks it the same way: --database, else the
/// WFMON_DATABASE_URL environment variable, else the configuration file's storage.url, else
/// sqlite://wfmon.db in the working directory.
#[derive(Debug, Parser)]
#[command(
    name = "wfmon",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE.
    #[arg(
        long,
        global = true,
        env = "WFMON_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,

    /// Configuration file [default: wfmon.yaml, if present].
    #[arg(short, long, global = true, env = "WFMON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); WFMON_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the database: migrate, check, stats, prune, rebuild-rollups.
    #[command(subcommand)]
    Db(DbCommand),
    /// Start the bundled demo web shop and monitor it with the example journeys (SQLite in
    /// the working directory, no set-up).
    Demo(DemoArgs),
    /// Run the scheduler: every workflow at its cron times, in each of its environments,
    /// until SIGTERM or SIGINT, and serve the API. Several instances may share one
    /// PostgreSQL database.
    Run(RunArgs),
    /// Run one workflow now, step by step; exit code 1 if it fails (for CI pipelines).
    Check(CheckArgs),
    /// Check the configuration: every problem with file:line:column, or a summary.
    Validate(JsonFlag),
    /// Write a commented starter configuration (wfmon.yaml, or -c FILE).
    Init(InitArgs),
    /// Measure wfmon's speed against a baseline taken in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// List, acknowledge, resolve or silence alerts.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Try a notification channel.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Success rate and percentiles per workflow over any window, failures grouped by
    /// signature, per-step figures.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Print a monitoring report for a window (table, Markdown, JSON, CSV or HTML), and
    /// optionally save it.
    Report(ReportArgs),
    /// Service level objectives now: attained level, error budget left and burn rates per
    /// objective and environment.
    Slo(SloArgs),
    /// Create, list or revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Add, list or remove dashboard users, or set a password.
    #[command(subcommand)]
    User(UserCommand),
}

/// `wfmon db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database or bring it to this wfmon's schema (also adopts a database of the
    /// TypeScript monitoring bot, keeping every row). Safe to run twice.
    Migrate(JsonFlag),
    /// Compare the database's schema with what this wfmon needs; exit code 2 on any drift.
    Check(JsonFlag),
    /// Row counts, oldest and newest rows, and sizes of every table.
    Stats(JsonFlag),
    /// Delete raw results older than a duration; reports and alerts are kept, rollups by
    /// their own retention (--rollups-older-than; default: kept).
    Prune(PruneArgs),
    /// Recompute the rollups of a time range from the raw executions (after adopting a
    /// database, or to repair them).
    RebuildRollups(RebuildArgs),
}

/// `wfmon run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address of the API, IP:PORT or localhost:PORT [default: the configuration's
    /// server.listen, else 127.0.0.1:8080 if free].
    #[arg(long, value_name = "ADDRESS", value_parser = parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
}

/// `wfmon demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port of the demo shop on 127.0.0.1 (a free one if it is taken).
    #[arg(long, default_value_t = 8081)]
    pub port: u16,
    /// Turn off the shop's deliberate faults (slow listings, failed orders).
    #[arg(long)]
    pub no_faults: bool,
}

/// `wfmon check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The workflow to run.
    pub workflow: String,

    /// Run in this environment only [default: every environment the workflow lists].
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Do not write the run to the database.
    #[arg(long)]
    pub no_record: bool,

    /// Print one JSON document at the end instead of progress.
    #[arg(long)]
    pub json: bool,
}

/// `wfmon init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `--json` for commands whose output a script may read.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `wfmon db prune` arguments.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Age of the oldest results to keep, e.g. 30d, 12h, 2w.
    #[arg(long, value_name = "DURATION", value_parser = parse_age,
          required_unless_present = "rollups_older_than")]
    pub older_than: Option<chrono::TimeDelta>,

    /// Age of the oldest rollups to keep, e.g. 400d (at least --older-than) [default: keep
    /// every rollup].
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub rollups_older_than: Option<chrono::TimeDelta>,

    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `wfmon db rebuild-rollups` arguments.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Start of the range: an RFC 3339 time, or an age such as 7d [default: the oldest run].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<wfmon_model::Timestamp>,

    /// End of the range (exclusive), like --from [default: after the newest run].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<wfmon_model::Timestamp>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    wfmon_engine::config::parse_listen(text)
}

fn parse_age(text: &str) -> Result<chrono::TimeDelta, String> {
    wfmon_model::parse_duration(text).map_err(|e| e.to_string())
}

/// An RFC 3339 time (`2026-01-31T00:00:00Z`), a date (midnight UTC), or an age (`7d`: seven
/// days ago).
pub fn parse_time(text: &str) -> Result<wfmon_model::Timestamp, String> {
    wfmon_model::parse_instant(text, wfmon_model::Timestamp::now())
        .map_err(|e| format!("`{}` {e}", text.trim()))
}
