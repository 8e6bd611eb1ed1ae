//! `wfmon bench store`: recording through the store against a raw multi-row INSERT baseline.

mod databases;
mod report;
mod rows;

use std::time::Instant;

use clap::{Args, ValueEnum};
use wfmon_model::{SystemHealthCheck, WorkflowExecution, WorkflowMetric, WorkflowStepResult};
use wfmon_store::{Backend, DatabaseUrl, ExecutionRecord, OpenMode, Store};

pub(super) use self::databases::RawPool;
use self::databases::Scratch;
use self::report::{Measurement, Method};
use crate::exit::Failure;

/// The PostgreSQL database used when neither --postgres-url nor its variable is set.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `wfmon bench store` arguments.
#[derive(Debug, Args)]
pub struct StoreBenchArgs {
    /// Executions to write on each backend, by each method.
    #[arg(long, value_name = "N", default_value_t = 20_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub executions: u32,

    /// Executions per transaction (per `record_executions` call, and per baseline batch).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,

    /// Which backend(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,

    /// PostgreSQL database to measure in; each run creates its own schemas there and drops
    /// them at the end.
    #[arg(
        long,
        value_name = "URL",
        env = "WFMON_BENCH_POSTGRES_URL",
        hide_env_values = true,
        default_value = DEFAULT_POSTGRES_URL
    )]
    pub postgres_url: String,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// SQLite only.
    Sqlite,
    /// PostgreSQL only.
    Postgres,
    /// SQLite, then PostgreSQL.
    Both,
}

impl BackendChoice {
    fn backends(self) -> &'static [Backend] {
        match self {
            BackendChoice::Sqlite => &[Backend::Sqlite],
            BackendChoice::Postgres => &[Backend::Postgres],
            BackendChoice::Both => &[Backend::Sqlite, Backend::Postgres],
        }
    }
}

/// Runs `wfmon bench store`.
pub async fn run(args: &StoreBenchArgs) -> Result<(), Failure> {
    let executions = args.executions as usize;
    let batch = args.batch as usize;
    if args.backend.backends().contains(&Backend::Postgres) {
        // Fail before spending time on SQLite when PostgreSQL is unreachable.
        Scratch::postgres(&args.postgres_url).await?;
    }
    eprintln!("generating {executions} executions...");
    let records = rows::executions(executions);
    let mut measurements = Vec::new();
    for &backend in args.backend.backends() {
        let mut scratch = match backend {
            Backend::Sqlite => Scratch::sqlite()?,
            Backend::Postgres => Scratch::postgres(&args.postgres_url).await?,
        };
        eprintln!("{backend}: fresh databases are {}", scratch.describe());
        // Ctrl-C stops the measurement, but the databases are still removed.
        let outcome = tokio::select! {
            outcome = measure(backend, &mut scratch, &records, batch) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Failure::new("interrupted")),
        };
        match (outcome, scratch.remove().await) {
            (Ok(figures), Ok(())) => measurements.extend(figures),
            (Ok(_), Err(cleanup)) => return Err(cleanup),
            (Err(failure), Ok(())) => return Err(failure),
            (Err(failure), Err(cleanup)) => {
                cleanup.report();
                return Err(failure);
            }
        }
    }
    let targets = report::targets(&measurements);
    if args.json {
        report::print_json(executions, batch, &measurements, &targets);
    } else {
        report::print_table(executions, batch, &measurements, &targets);
    }
    Ok(())
}

/// Times the baseline, then the recording, each on its own fresh, migrated database.
async fn measure(
    backend: Backend,
    scratch: &mut Scratch,
    records: &[ExecutionRecord],
    batch: usize,
) -> Result<Vec<Measurement>, Failure> {
    let expected = (records.len() * rows::ROWS_PER_EXECUTION) as i64;

    let url = scratch.fresh("baseline").await?;
    migrate(&url).await?;
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: sqlx::Error| Failure::new(format!("{backend} baseline: {what}: {e}"))
    };
    let pool = RawPool::connect(&url)
        .await
        .map_err(failed("cannot connect"))?;
    let start = Instant::now();
    let inserted = pool.insert_batches(records, batch).await;
    let baseline_seconds = start.elapsed().as_secs_f64();
    inserted.map_err(failed("inserting rows"))?;
    let written = pool.count_rows().await.map_err(failed("counting rows"))?;
    pool.close().await;
    check_written(backend, Method::Baseline, written, expected)?;
    eprintln!(
        "{backend}: {} {baseline_seconds:.3}s",
        Method::Baseline.label()
    );

    let url = scratch.fresh("recording").await?;
    let store = Store::open(&url, OpenMode::Create).await?;
    let start = Instant::now();
    for chunk in records.chunks(batch) {
        store.record_executions(chunk).await?;
    }
    let recording_seconds = start.elapsed().as_secs_f64();
    let written = store.count::<WorkflowExecution>().await?
        + store.count::<WorkflowStepResult>().await?
        + store.count::<WorkflowMetric>().await?
        + store.count::<SystemHealthCheck>().await?;
    store.close().await;
    check_written(backend, Method::Recording, written, expected)?;
    eprintln!(
        "{backend}: {} {recording_seconds:.3}s",
        Method::Recording.label()
    );

    let n = records.len();
    Ok(vec![
        Measurement::new(backend, Method::Baseline, n, baseline_seconds, 1.0),
        Measurement::new(
            backend,
            Method::Recording,
            n,
            recording_seconds,
            baseline_seconds / recording_seconds,
        ),
    ])
}

/// Creates wfmon's schema in an empty database, through the store.
async fn migrate(url: &DatabaseUrl) -> Result<(), Failure> {
    let store = Store::open(url, OpenMode::Create).await?;
    store.close().await;
    Ok(())
}

/// Fails when the database does not hold exactly the rows written (a silent no-op would
/// otherwise look fast).
fn check_written(
    backend: Backend,
    method: Method,
    written: i64,
    expected: i64,
) -> Result<(), Failure> {
    if written == expected {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{backend} {}: {written} rows in the database after the run, expected {expected}",
            method.label()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn measures_both_methods_on_sqlite_and_removes_the_files() {
        let records = rows::executions(23);
        let mut scratch = Scratch::sqlite().unwrap();
        let dir = match &scratch {
            Scratch::Sqlite { dir } => dir.clone(),
            Scratch::Postgres { .. } => unreachable!(),
        };
        // A batch size that does not divide the executions, so the last batch is short.
        let figures = measure(Backend::Sqlite, &mut scratch, &records, 5).await;
        scratch.remove().await.unwrap();
        let figures = figures.unwrap_or_else(|f| panic!("{f:?}"));
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].method, Method::Baseline);
        assert_eq!(figures[1].method, Method::Recording);
        assert!(
            figures
                .iter()
                .all(|m| m.executions == 23 && m.rows == 23 * 8)
        );
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}
