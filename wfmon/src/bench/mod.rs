//! `wfmon bench ...`: measurements against a baseline taken in the same run.

mod api;
mod engine;
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
    /// Engine speed: throughput and CPU per check, scheduling precision and memory, each
    /// against a baseline measured in the same run.
    ///
    /// Throughput: single-request workflows (GET of a local axum target on 127.0.0.1 started
    /// in this process, assertion `status == 200`) run through `executor::execute` with every
    /// result queued on the daemon's ResultWriter, on a fresh SQLite file and on a throwaway
    /// PostgreSQL database (on the server of --database when it is a postgres:// URL, else
    /// WFMON_BENCH_POSTGRES, WFMON_BENCH_POSTGRES_URL, WFMON_TEST_POSTGRES_URL, else
    /// postgres://postgres@127.0.0.1:5432/postgres; skipped with a message when unreachable).
    /// Only PASSED executions found in the database count, and the clock stops once the
    /// writer has written everything. Baseline: a plain load loop of the same requests with the
    /// runner's reqwest client settings and the same concurrency. CPU per check is
    /// getrusage(RUSAGE_SELF) over the measurement, with the target server's share shown apart.
    /// Informational rows split the difference into its parts.
    ///
    /// Precision: 1,000 workflows due every minute ("* * * * *"; with --quick every second)
    /// through `run_scheduler` on SQLite, delays from due time to start; baseline: 1,000 tokio
    /// timers woken at the same kind of instants. Memory: VmRSS and VmHWM of `wfmon run` (this
    /// binary, as a child) with 0, 1,000 and 10,000 workflows that never come due, against
    /// `sleep`.
    ///
    /// Targets: ratio >= 0.50 and >= 10,000 persisted checks/s on SQLite, <= 100 µs CPU per
    /// check, start delay p99 <= 5 ms, peak RSS <= 40 MiB at 1,000 workflows. A missed target
    /// is reported, not an error. Every database and file it creates is removed at the end.
    Engine(engine::EngineBenchArgs),
    /// API speed and live-client memory: overview and execution-list latency (p50/p99) under
    /// concurrent clients over a large history (--seeded, filled by `wfmon bench seed`)
    /// against the same endpoints over an empty store in the same run, and the resident set
    /// of `wfmon run` per connected `GET /api/events` client.
    ///
    /// Targets: p99 under 50 ms with the large history, at most 3x the empty store's p99, at
    /// most 100 KB per live client. A missed target is reported, not an error.
    Api(api::ApiBenchArgs),
}

/// Runs one benchmark.
pub async fn run(cli: &Cli, command: &BenchCommand) -> Result<(), Failure> {
    match command {
        BenchCommand::Store(args) => store::run(args).await,
        BenchCommand::Engine(args) => engine::run(cli, args).await,
        BenchCommand::Api(args) => api::run(args).await,
    }
}
