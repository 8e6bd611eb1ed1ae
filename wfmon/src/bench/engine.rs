//! `wfmon bench engine`: throughput and CPU per check of executed and recorded workflows,
//! scheduling precision and memory, each against a baseline measured in the same run.

mod configs;
mod cpu;
pub(super) mod memory;
mod postgres;
mod precision;
mod report;
mod target;
mod throughput;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use wfmon_model::new_id;
use wfmon_store::{Backend, DatabaseUrl};

use self::postgres::Throwaway;
use self::precision::{Cadence, Spread};
use self::report::{
    MemoryReport, PrecisionReport, Report, SchedulerRun, ThroughputReport, ThroughputRow,
};
use self::target::Target;
use self::throughput::{Budget, Method};
use super::store::BackendChoice;
use crate::cli::Cli;
use crate::exit::Failure;

/// Scheduled workflows in the precision measurement.
const SCHEDULED_WORKFLOWS: usize = 1000;

/// The cron of the memory measurement's workflows: midnight on January 1st, so nothing runs.
const IDLE_CRON: &str = "0 0 1 1 *";

/// Requests sent to warm up the target and the client before the first measurement.
const WARM_UP: usize = 1000;

/// `wfmon bench engine` arguments.
#[derive(Debug, Args)]
pub struct EngineBenchArgs {
    /// Seconds each throughput method sends checks for [default: 10, or 3 with --quick].
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub seconds: Option<u32>,

    /// Stop each throughput method after N checks, if that comes before --seconds; also the
    /// number of results the writer-alone measurements write [default: 20000, or 5000 with
    /// --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub checks: Option<u32>,

    /// Concurrent workers sending checks (throughput).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub workers: u32,

    /// Where the throughput measurement records: a SQLite file, a throwaway PostgreSQL
    /// database, or both.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,

    /// Which measurements to make (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PHASE",
          default_values_t = [Phase::Throughput, Phase::Precision, Phase::Memory])]
    pub phases: Vec<Phase>,

    /// A fast check: every-second schedules (6-field cron) over 5 due times instead of two
    /// minute boundaries, and 3 s per throughput method.
    #[arg(long)]
    pub quick: bool,

    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `--phases`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    /// Throughput and CPU time per check.
    Throughput,
    /// Scheduling precision.
    Precision,
    /// Memory of `wfmon run`.
    Memory,
}

/// Fresh databases of one backend for the throughput measurement.
struct Databases {
    /// For the writer alone.
    writer: DatabaseUrl,
    /// For the full path.
    full: DatabaseUrl,
    /// For the full path with `verify_tls: false` (SQLite only).
    unverified: Option<DatabaseUrl>,
}

/// Runs `wfmon bench engine`.
pub async fn run(cli: &Cli, args: &EngineBenchArgs) -> Result<(), Failure> {
    let scratch = ScratchDir::new()?;
    let throughput = args.phases.contains(&Phase::Throughput);
    // Two throwaway databases: the writer alone, then the full path.
    let mut throwaways: Vec<Throwaway> = Vec::new();
    let mut postgres_skipped = None;
    if throughput && records_on(args.backend, Backend::Postgres) {
        let (server, source) = postgres::server_url(cli);
        for _ in 0..2 {
            match Throwaway::create(&server).await {
                Ok(db) => {
                    eprintln!("PostgreSQL: throwaway database {}", db.describe());
                    throwaways.push(db);
                }
                Err(reason) => {
                    let reason = format!(
                        "{reason} (server from {source}; set --database postgres://... or \
                         WFMON_BENCH_POSTGRES, or use --backend sqlite)"
                    );
                    eprintln!("PostgreSQL skipped: {reason}");
                    postgres_skipped = Some(reason);
                    break;
                }
            }
        }
    }
    let postgres = match &throwaways[..] {
        [writer, full] if postgres_skipped.is_none() => Some(Databases {
            writer: writer.url.clone(),
            full: full.url.clone(),
            unverified: None,
        }),
        _ => None,
    };
    let sqlite = if throughput && records_on(args.backend, Backend::Sqlite) {
        Some(Databases {
            writer: scratch.sqlite("writer")?,
            full: scratch.sqlite("full")?,
            unverified: Some(scratch.sqlite("unverified")?),
        })
    } else {
        None
    };
    // Ctrl-C stops the measurements, but the throwaway databases and files are still removed.
    let outcome = tokio::select! {
        outcome = measure(args, &scratch, sqlite, postgres, postgres_skipped) => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::new("interrupted")),
    };
    let mut cleanup = Ok(());
    for db in throwaways {
        if let Err(e) = db.remove().await {
            cleanup = Err(e);
        }
    }
    drop(scratch);
    let report = outcome?;
    cleanup?;
    let targets = report::targets(&report);
    if args.json {
        report::print_json(&report, &targets);
    } else {
        report::print_table(&report, &targets);
    }
    Ok(())
}

async fn measure(
    args: &EngineBenchArgs,
    scratch: &ScratchDir,
    sqlite: Option<Databases>,
    postgres: Option<Databases>,
    postgres_skipped: Option<String>,
) -> Result<Report, Failure> {
    let target = Target::start()?;
    eprintln!("target: {}/ (axum, in this process)", target.base_url);
    let mut report = Report {
        quick: args.quick,
        throughput: None,
        precision: None,
        memory: None,
    };
    if args.phases.contains(&Phase::Throughput) {
        report.throughput =
            Some(measure_throughput(args, &target, sqlite, postgres, postgres_skipped).await?);
    }
    if args.phases.contains(&Phase::Precision) {
        report.precision = Some(measure_precision(args, &target, scratch).await?);
    }
    drop(target);
    if args.phases.contains(&Phase::Memory) {
        report.memory = Some(measure_memory(scratch).await?);
    }
    Ok(report)
}

async fn measure_throughput(
    args: &EngineBenchArgs,
    target: &Target,
    sqlite: Option<Databases>,
    postgres: Option<Databases>,
    postgres_skipped: Option<String>,
) -> Result<ThroughputReport, Failure> {
    let seconds = args.seconds.unwrap_or(if args.quick { 3 } else { 10 });
    let budget = Budget {
        checks: args.checks.map_or(usize::MAX, |n| n as usize),
        duration: Duration::from_secs(u64::from(seconds)),
    };
    let written = args
        .checks
        .map_or(if args.quick { 5_000 } else { 20_000 }, |n| n as usize);
    let workers = args.workers as usize;
    let config = Arc::new(configs::parse(
        &configs::single(&target.base_url, true),
        "throughput.yaml",
    )?);
    let unverified = Arc::new(configs::parse(
        &configs::single(&target.base_url, false),
        "throughput-unverified.yaml",
    )?);
    eprintln!("throughput: warming up ({WARM_UP} requests)");
    let warm_up = Budget {
        checks: WARM_UP,
        duration: Duration::from_secs(60),
    };
    throughput::load_loop(Method::Baseline, target, warm_up, workers).await?;
    let mut measured = Vec::new();
    for method in [
        Method::Baseline,
        Method::ConnectionPerRequest,
        Method::ClientPerRequest,
    ] {
        measured.push(throughput::load_loop(method, target, budget, workers).await?);
        progress(measured.last());
    }
    measured.push(throughput::runner_only(&config, target, budget, workers).await?);
    progress(measured.last());
    let backends = [
        (Method::WriterSqlite, Method::Sqlite, sqlite),
        (Method::WriterPostgres, Method::Postgres, postgres),
    ];
    for (writer_alone, full, databases) in backends {
        let Some(db) = databases else { continue };
        let m = throughput::writer_only(writer_alone, &db.writer, &config, target, written);
        measured.push(m.await?);
        progress(measured.last());
        let m = throughput::recorded(full, &db.full, &config, target, budget, workers);
        measured.push(m.await?);
        progress(measured.last());
        if let Some(url) = &db.unverified {
            let method = Method::SqliteUnverified;
            let m = throughput::recorded(method, url, &unverified, target, budget, workers);
            measured.push(m.await?);
            progress(measured.last());
        }
    }
    let client_build = throughput::client_build_cost(200, true)?;
    let client_build_unverified = throughput::client_build_cost(200, false)?;
    let baseline = measured
        .first()
        .map_or(0.0, |m| m.counted as f64 / m.seconds);
    Ok(ThroughputReport {
        seconds,
        max_checks: args.checks,
        workers,
        target: target.base_url.clone(),
        results: measured
            .into_iter()
            .map(|m| ThroughputRow::new(m, baseline))
            .collect(),
        client_build_micros: client_build.as_secs_f64() * 1e6,
        client_build_unverified_micros: client_build_unverified.as_secs_f64() * 1e6,
        postgres_skipped,
    })
}

fn records_on(choice: BackendChoice, backend: Backend) -> bool {
    match choice {
        BackendChoice::Both => true,
        BackendChoice::Sqlite => backend == Backend::Sqlite,
        BackendChoice::Postgres => backend == Backend::Postgres,
    }
}

fn progress(measured: Option<&throughput::Measured>) {
    if let Some(m) = measured {
        eprintln!(
            "throughput: {}: {} of {} checks counted in {:.3}s",
            m.method.label(),
            m.counted,
            m.checks,
            m.seconds
        );
    }
}

async fn measure_precision(
    args: &EngineBenchArgs,
    target: &Target,
    scratch: &ScratchDir,
) -> Result<PrecisionReport, Failure> {
    let cadence = if args.quick {
        Cadence::SECONDS
    } else {
        Cadence::MINUTES
    };
    eprintln!(
        "precision: baseline, {SCHEDULED_WORKFLOWS} tokio timers, {} due times on \"{}\"",
        cadence.due_times, cadence.expression
    );
    let baseline = precision::timers(SCHEDULED_WORKFLOWS, cadence).await;
    let mut runs = Vec::new();
    // The measurement, then the same with the runner's HTTP client built without the
    // system's CA certificates, to show what that costs the start delays.
    for verify_tls in [true, false] {
        let workflows = configs::Scheduled {
            count: SCHEDULED_WORKFLOWS,
            expression: cadence.expression,
            concurrency: Some(SCHEDULED_WORKFLOWS),
            verify_tls,
        };
        let yaml = configs::scheduled(&workflows, &target.base_url);
        let config = configs::parse(&yaml, "precision.yaml")?;
        eprintln!(
            "precision: run_scheduler, {SCHEDULED_WORKFLOWS} workflows{}, {} due times on \"{}\"",
            if verify_tls {
                ""
            } else {
                " with verify_tls: false"
            },
            cadence.due_times,
            cadence.expression
        );
        let url = scratch.sqlite(&format!("precision-{}", runs.len()))?;
        let (delays, counts) = precision::scheduler(&url, config, cadence).await?;
        runs.push(SchedulerRun {
            verify_tls,
            delays: Spread::of(&delays),
            counts,
        });
    }
    Ok(PrecisionReport {
        workflows: SCHEDULED_WORKFLOWS,
        cadence,
        baseline: Spread::of(&baseline),
        runs,
    })
}

async fn measure_memory(scratch: &ScratchDir) -> Result<MemoryReport, Failure> {
    let mut results = vec![memory::trivial().await?];
    for workflows in [0, 1000, 10_000] {
        eprintln!("memory: wfmon run with {workflows} workflows");
        // The target is never asked: nothing is due while measured.
        let idle = configs::Scheduled {
            count: workflows,
            expression: IDLE_CRON,
            concurrency: None,
            verify_tls: true,
        };
        let yaml = configs::scheduled(&idle, "http://127.0.0.1:9");
        configs::parse(&yaml, "memory.yaml")?;
        results.push(
            memory::daemon(
                &scratch.dir,
                &yaml,
                workflows,
                &format!("on \"{IDLE_CRON}\""),
            )
            .await?,
        );
    }
    Ok(MemoryReport {
        cron: IDLE_CRON,
        results,
    })
}

/// A new directory under the temporary directory for this run's SQLite files and
/// configurations, removed when dropped.
pub(super) struct ScratchDir {
    dir: PathBuf,
}

impl ScratchDir {
    pub(super) fn new() -> Result<ScratchDir, Failure> {
        let dir = std::env::temp_dir().join(format!(
            "wfmon-bench-engine-{}",
            new_id("b").trim_start_matches("b_")
        ));
        std::fs::create_dir(&dir).map_err(|e| {
            Failure::new(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
        Ok(ScratchDir { dir })
    }

    /// The directory.
    pub(super) fn path(&self) -> &std::path::Path {
        &self.dir
    }

    /// The URL of a new SQLite file called `name`.
    pub(super) fn sqlite(&self, name: &str) -> Result<DatabaseUrl, Failure> {
        let path = self.dir.join(format!("{name}.db"));
        Ok(DatabaseUrl::parse(&format!("sqlite://{}", path.display()))?)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}
