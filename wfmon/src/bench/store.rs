//! `wfmon bench store`: recording through the store against a raw multi-row INSERT baseline.

mod databases;
mod rows;

use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;
use wfmon_model::{SystemHealthCheck, WorkflowExecution, WorkflowMetric, WorkflowStepResult};
use wfmon_store::{Backend, DatabaseUrl, ExecutionRecord, OpenMode, Store};

use self::databases::{RawPool, Scratch};
use crate::exit::Failure;

/// The PostgreSQL database used when neither --postgres-url nor its variable is set.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `wfmon bench store` arguments.
#[derive(Debug, Args)]
pub struct StoreBenchArgs {
    /// Executions to record on each backend, by each method.
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

/// How rows were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Method {
    /// Plain multi-row INSERT with sqlx.
    Baseline,
    /// `Store::record_executions`.
    Recording,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::Baseline => "raw multi-row INSERT baseline",
            Method::Recording => "wfmon record_executions",
        }
    }
}

/// One timed write of every execution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Measurement {
    backend: &'static str,
    method: Method,
    executions: usize,
    rows: usize,
    seconds: f64,
    executions_per_second: f64,
    rows_per_second: f64,
    /// This method's throughput over the baseline's on the same backend.
    ratio: f64,
}

/// One goal from the issue, and whether this run met it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    backend: &'static str,
    goal: String,
    required: f64,
    measured: f64,
    met: bool,
}

/// The least ratio recording/baseline throughput: "within 2x of the raw baseline".
const MIN_RATIO: f64 = 0.5;

/// The least executions/s of the recording on a backend.
fn min_rate(backend: Backend) -> f64 {
    match backend {
        Backend::Sqlite => 20_000.0,
        Backend::Postgres => 10_000.0,
    }
}

fn backend_key(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Runs `wfmon bench store`.
pub async fn run(args: &StoreBenchArgs) -> Result<(), Failure> {
    let executions = args.executions as usize;
    let batch = args.batch as usize;
    tracing::info!("generating {executions} executions");
    let records = rows::executions(executions);
    let mut measurements = Vec::new();
    for &backend in args.backend.backends() {
        let mut scratch = match backend {
            Backend::Sqlite => Scratch::sqlite()?,
            Backend::Postgres => Scratch::postgres(&args.postgres_url).await?,
        };
        tracing::info!("{backend}: fresh databases are {}", scratch.describe());
        // Ctrl-C stops the measurement but still removes the databases.
        let outcome = tokio::select! {
            outcome = measure(backend, &mut scratch, &records, batch) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Failure::new("interrupted")),
        };
        let removed = scratch.remove().await;
        measurements.extend(outcome?);
        removed?;
    }
    let targets = targets(&measurements);
    if args.json {
        let report = serde_json::json!({
            "executions": executions,
            "batch": batch,
            "rowsPerExecution": rows::ROWS_PER_EXECUTION,
            "results": measurements,
            "targets": targets,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON values serialise")
        );
    } else {
        print_table(executions, batch, &measurements, &targets);
    }
    Ok(())
}

/// Times the baseline, then the recording, each on its own fresh database.
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
    tracing::info!("{backend}: timing the baseline");
    let start = Instant::now();
    let inserted = pool.insert_batches(records, batch).await;
    let baseline_seconds = start.elapsed().as_secs_f64();
    inserted.map_err(failed("inserting rows"))?;
    let written = pool.count_rows().await.map_err(failed("counting rows"))?;
    pool.close().await;
    check_written(backend, Method::Baseline, written, expected)?;

    let url = scratch.fresh("recording").await?;
    let store = Store::open(&url, OpenMode::Create).await?;
    tracing::info!("{backend}: timing the recording");
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

    let baseline = measurement(
        backend,
        Method::Baseline,
        records.len(),
        baseline_seconds,
        1.0,
    );
    let ratio = baseline_seconds / recording_seconds;
    let recording = measurement(
        backend,
        Method::Recording,
        records.len(),
        recording_seconds,
        ratio,
    );
    Ok(vec![baseline, recording])
}

/// Creates wfmon's schema in an empty database, through the store.
async fn migrate(url: &DatabaseUrl) -> Result<(), Failure> {
    let store = Store::open(url, OpenMode::Create).await?;
    store.close().await;
    Ok(())
}

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

fn measurement(
    backend: Backend,
    method: Method,
    executions: usize,
    seconds: f64,
    ratio: f64,
) -> Measurement {
    let rows = executions * rows::ROWS_PER_EXECUTION;
    Measurement {
        backend: backend_key(backend),
        method,
        executions,
        rows,
        seconds,
        executions_per_second: executions as f64 / seconds,
        rows_per_second: rows as f64 / seconds,
        ratio,
    }
}

fn targets(measurements: &[Measurement]) -> Vec<Target> {
    let mut targets = Vec::new();
    for m in measurements
        .iter()
        .filter(|m| m.method == Method::Recording)
    {
        let backend = if m.backend == "sqlite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        targets.push(Target {
            backend: m.backend,
            goal: "recording within 2x of the raw baseline (ratio >= 0.50)".to_owned(),
            required: MIN_RATIO,
            measured: m.ratio,
            met: m.ratio >= MIN_RATIO,
        });
        let required = min_rate(backend);
        targets.push(Target {
            backend: m.backend,
            goal: format!("recording at least {} executions/s", thousands(required)),
            required,
            measured: m.executions_per_second,
            met: m.executions_per_second >= required,
        });
    }
    targets
}

fn backend_label(key: &str) -> String {
    match key {
        "sqlite" => Backend::Sqlite.to_string(),
        _ => Backend::Postgres.to_string(),
    }
}

fn print_table(executions: usize, batch: usize, measurements: &[Measurement], targets: &[Target]) {
    println!(
        "wfmon bench store: {executions} executions x {} rows (1 execution, {} step results, \
         {} metrics, {} health check), batch {batch}, one transaction per batch",
        rows::ROWS_PER_EXECUTION,
        rows::STEPS,
        rows::METRICS,
        rows::HEALTH_CHECKS,
    );
    println!();
    println!(
        "{:<11} {:<30} {:>10} {:>10} {:>8} {:>12} {:>12} {:>6}",
        "backend", "method", "executions", "rows", "seconds", "executions/s", "rows/s", "ratio"
    );
    for m in measurements {
        println!(
            "{:<11} {:<30} {:>10} {:>10} {:>8.3} {:>12} {:>12} {:>6.2}",
            backend_label(m.backend),
            m.method.label(),
            m.executions,
            m.rows,
            m.seconds,
            thousands(m.executions_per_second),
            thousands(m.rows_per_second),
            m.ratio,
        );
    }
    println!();
    println!("ratio = throughput / baseline throughput on the same backend");
    println!();
    println!("targets (from the issue)");
    for t in targets {
        let measured = if t.required < 1.0 {
            format!("{:.2}", t.measured)
        } else {
            format!("{}/s", thousands(t.measured))
        };
        println!(
            "{:<11} {:<58} {:>12}  {}",
            backend_label(t.backend),
            t.goal,
            measured,
            if t.met { "met" } else { "MISSED" }
        );
    }
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }

    #[test]
    fn targets_compare_recording_with_the_issue() {
        let baseline = measurement(Backend::Sqlite, Method::Baseline, 1000, 0.01, 1.0);
        let recording = measurement(Backend::Sqlite, Method::Recording, 1000, 0.1, 0.1);
        let targets = targets(&[baseline, recording]);
        assert_eq!(targets.len(), 2);
        assert!(!targets[0].met, "ratio 0.1 is not within 2x");
        assert!(!targets[1].met, "10,000/s is below 20,000/s");
    }
}
