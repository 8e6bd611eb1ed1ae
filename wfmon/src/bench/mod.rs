//! `wfmon bench ...`: measurements against a baseline taken in the same run.

mod store;

use clap::Subcommand;

use crate::cli::Cli;
use crate::exit::Failure;

pub use store::StoreBenchArgs;

/// `wfmon bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Storage speed: record complete executions through the store, against a raw
    /// multi-row INSERT of the same rows on the same backend.
    ///
    /// Each execution is 8 rows: the execution, 3 step results, 3 metrics and 1 health
    /// check. Every row is generated before timing starts. For each backend, the baseline
    /// (plain `INSERT INTO t (columns) VALUES (...), (...)` written directly with sqlx, one
    /// transaction per batch, no upsert) and the recording (`Store::record_executions`, one
    /// call per batch) each write to their own fresh, empty database migrated to wfmon's
    /// schema: SQLite files in a new directory under the temporary directory, or new schemas
    /// of the PostgreSQL database. All of them are deleted at the end. --database is not
    /// used and never touched.
    ///
    /// The report gives executions/s, rows/s and the ratio recording/baseline throughput,
    /// next to the targets: recording within 2x of the baseline (ratio >= 0.50) on both
    /// backends, at least 20,000 executions/s on SQLite and 10,000/s on PostgreSQL. A missed
    /// target is reported, not an error.
    Store(StoreBenchArgs),
}

/// Runs one benchmark.
pub async fn run(_cli: &Cli, command: &BenchCommand) -> Result<(), Failure> {
    match command {
        BenchCommand::Store(args) => store::run(args).await,
    }
}
