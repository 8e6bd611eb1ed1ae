//! `wfmon bench analytics`: over a seeded store (`wfmon bench seed`), how long (a) a daily
//! report, (b) a 30-day per-workflow p95 series and (c) 30-day uptime take, each against the
//! same figures computed from the raw rows in the same run, and whether the figures agree.
//!
//! (a) The report is `reports::compute`, the path `wfmon report` and the daemon's reporter
//! take, over the last whole UTC day of the history; its baseline is one plain query of that
//! day's runs (workflow, status, duration), counted and sorted in this process (exact
//! percentiles). (b) The series is `Store::figures` with one-day steps, the path of
//! `GET /api/analytics/series`, read from the rollups; its baseline is one plain SQL query
//! over `workflow_executions` ranking each workflow, environment and day's durations
//! (`ROW_NUMBER`, that is percentile by sorting) and interpolating like `percentile_cont`.
//! (c) Uptime is `Store::uptime`, the share of measured minutes without a failed run, read
//! from the rollups' minute counts; its baseline groups the window's raw runs by minute.
//!
//! Only reads: the database is opened read-only, so it can be run on a store another
//! process owns.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, FromRow};
use wfmon_engine::reports::{self, ReportRequest};
use wfmon_model::{ReportType, Timestamp, WorkflowExecution};
use wfmon_store::{AnalyticsWindow, Backend, DatabaseUrl, OpenMode, ReportScope, Store};

use crate::exit::{EXIT_USAGE, Failure};

const DAY_MS: i64 = 86_400_000;

/// Days in the series.
const SERIES_DAYS: i64 = 30;

/// Targets, as the issue states them.
const TARGET_MS: f64 = 100.0;
const TARGET_RATIO: f64 = 100.0;

/// The sketch's promise: percentiles within 1% of the exact ones.
const SKETCH_TOLERANCE: f64 = 0.01;

/// `wfmon bench analytics` arguments.
#[derive(Debug, Args)]
pub struct AnalyticsBenchArgs {
    /// The seeded database (fill one with `wfmon bench seed`). Opened read-only.
    #[arg(long, value_name = "URL")]
    pub database: String,

    /// Timed repetitions of each measurement (after one untimed warm-up).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repetitions: u32,

    /// Where both windows end, rounded down to midnight UTC: RFC 3339 or a date
    /// (2026-08-01) [default: the last midnight of the history]. For a store whose rollups
    /// cover only part of its history.
    #[arg(long, value_name = "TIME", value_parser = parse_until)]
    pub until: Option<Timestamp>,

    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn parse_until(text: &str) -> Result<Timestamp, String> {
    crate::cli::parse_time(text)
}

/// Timings of one way of computing a figure set.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Timing {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// One measurement: the path wfmon takes against the raw baseline.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Measurement {
    what: String,
    window_from: Timestamp,
    window_to: Timestamp,
    raw_rows: i64,
    wfmon: Timing,
    raw: Timing,
    /// Raw p50 / wfmon p50.
    speed_up: f64,
    /// What was compared, and how far apart the two were.
    agreement: String,
    agrees: bool,
    target_met: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    executions: i64,
    repetitions: u32,
    measurements: Vec<Measurement>,
}

/// A read-only pool for the raw baseline queries.
enum RawReader {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl RawReader {
    async fn connect(url: &DatabaseUrl) -> Result<RawReader, sqlx::Error> {
        Ok(match url.backend() {
            Backend::Sqlite => RawReader::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(SqliteConnectOptions::from_str(url.as_str())?.read_only(true))
                    .await?,
            ),
            Backend::Postgres => RawReader::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(PgConnectOptions::from_str(url.as_str())?)
                    .await?,
            ),
        })
    }

    fn backend(&self) -> Backend {
        match self {
            RawReader::Sqlite(_) => Backend::Sqlite,
            RawReader::Postgres(_) => Backend::Postgres,
        }
    }

    /// The start of the newest execution.
    async fn latest_start(&self) -> Result<Option<Timestamp>, sqlx::Error> {
        let sql = "SELECT MAX(started_at) FROM workflow_executions";
        match self {
            RawReader::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            RawReader::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
    }

    async fn fetch<T>(
        &self,
        sql: String,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: Send + Unpin,
        T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>,
        T: for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        match self {
            RawReader::Sqlite(pool) => {
                sqlx::query_as(AssertSqlSafe(sql))
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await
            }
            RawReader::Postgres(pool) => {
                sqlx::query_as(AssertSqlSafe(sql))
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await
            }
        }
    }
}

/// The statuses that are not runs (the rollups' and the reports' rule).
const NOT_RUNS: &str = "'RUNNING', 'SKIPPED'";

#[derive(FromRow)]
struct RunRow {
    workflow_name: String,
    status: String,
    duration_ms: Option<i64>,
}

#[derive(FromRow)]
struct RankRow {
    w: String,
    e: String,
    d: String,
    n: i64,
    rn: i64,
    ms: i64,
}

#[derive(FromRow)]
struct UptimeRow {
    workflow_name: String,
    environment: String,
    measured: i64,
    up: i64,
}

/// Measured and up minutes per workflow and environment.
type UptimeFigures = BTreeMap<(String, String), (i64, i64)>;

/// Uptime from the raw rows: the window's runs grouped by minute, a minute up when none of
/// its runs failed (passed is PASSED or WARNING, the rollups' rule).
async fn raw_uptime(
    raw: &RawReader,
    from: Timestamp,
    to: Timestamp,
) -> Result<UptimeFigures, Failure> {
    let minute = match raw.backend() {
        Backend::Sqlite => "substr(started_at, 1, 16)",
        Backend::Postgres => "date_trunc('minute', started_at)",
    };
    let sql = format!(
        "SELECT workflow_name, environment, COUNT(*) AS measured, \
           CAST(SUM(CASE WHEN failures = 0 THEN 1 ELSE 0 END) AS BIGINT) AS up \
         FROM (SELECT workflow_name, environment, {minute} AS m, \
             SUM(CASE WHEN status IN ('PASSED', 'WARNING') THEN 0 ELSE 1 END) AS failures \
           FROM workflow_executions WHERE started_at >= $1 AND started_at < $2 \
             AND status NOT IN ({NOT_RUNS}) GROUP BY workflow_name, environment, {minute}) AS x \
         GROUP BY workflow_name, environment"
    );
    let rows: Vec<UptimeRow> = raw
        .fetch(sql, from, to)
        .await
        .map_err(|e| Failure::new(format!("counting the window's minutes: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.workflow_name, r.environment), (r.measured, r.up)))
        .collect())
}

/// A percentile of sorted values, interpolated between ranks like `percentile_cont`.
fn percentile(sorted: &[i64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = p * last as f64;
    let low = position.floor() as usize;
    let high = (low + 1).min(last);
    let fraction = position - low as f64;
    Some(sorted[low] as f64 + fraction * (sorted[high] - sorted[low]) as f64)
}

/// The exact figures of the raw baseline for the daily report.
#[derive(Debug, Default, PartialEq)]
struct DayFigures {
    runs: i64,
    passed: i64,
    p95: Option<f64>,
    p95_per_workflow: BTreeMap<String, Option<f64>>,
}

async fn raw_day(raw: &RawReader, from: Timestamp, to: Timestamp) -> Result<DayFigures, Failure> {
    let sql = format!(
        "SELECT workflow_name, status, CAST(duration_ms AS BIGINT) AS duration_ms \
         FROM workflow_executions WHERE started_at >= $1 AND started_at < $2 \
         AND status NOT IN ({NOT_RUNS})"
    );
    let rows: Vec<RunRow> = raw
        .fetch(sql, from, to)
        .await
        .map_err(|e| Failure::new(format!("reading the day's runs: {e}")))?;
    let mut all = Vec::with_capacity(rows.len());
    let mut per_workflow: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut figures = DayFigures::default();
    for row in rows {
        figures.runs += 1;
        if row.status == "PASSED" || row.status == "WARNING" {
            figures.passed += 1;
        }
        if let Some(ms) = row.duration_ms {
            all.push(ms);
            per_workflow.entry(row.workflow_name).or_default().push(ms);
        }
    }
    all.sort_unstable();
    figures.p95 = percentile(&all, 0.95);
    for (name, mut values) in per_workflow {
        values.sort_unstable();
        figures
            .p95_per_workflow
            .insert(name, percentile(&values, 0.95));
    }
    Ok(figures)
}

/// A workflow, an environment and a day (`YYYY-MM-DD`).
type DayKey = (String, String, String);

/// Exact p95 and duration count per workflow, environment and day.
type Series = BTreeMap<DayKey, (i64, f64)>;

async fn raw_series(raw: &RawReader, from: Timestamp, to: Timestamp) -> Result<Series, Failure> {
    let day = match raw.backend() {
        Backend::Sqlite => "substr(started_at, 1, 10)",
        Backend::Postgres => "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    };
    let sql = format!(
        "WITH r AS (SELECT workflow_name AS w, environment AS e, {day} AS d, \
           CAST(duration_ms AS BIGINT) AS ms, \
           ROW_NUMBER() OVER (PARTITION BY workflow_name, environment, {day} \
                              ORDER BY duration_ms) - 1 AS rn, \
           COUNT(*) OVER (PARTITION BY workflow_name, environment, {day}) AS n \
         FROM workflow_executions WHERE started_at >= $1 AND started_at < $2 \
           AND status NOT IN ({NOT_RUNS}) AND duration_ms IS NOT NULL) \
         SELECT w, e, d, n, rn, ms FROM r \
         WHERE rn = (n - 1) * 95 / 100 OR rn = (n - 1) * 95 / 100 + 1 ORDER BY w, e, d, rn"
    );
    let rows: Vec<RankRow> = raw
        .fetch(sql, from, to)
        .await
        .map_err(|e| Failure::new(format!("ranking the window's durations: {e}")))?;
    // Per group: the count, and the values at the low rank and the next one.
    let mut ranks: BTreeMap<DayKey, (i64, i64, Option<i64>)> = BTreeMap::new();
    for row in rows {
        let low = (row.n - 1) * 95 / 100;
        let entry = ranks
            .entry((row.w, row.e, row.d))
            .or_insert((row.n, 0, None));
        if row.rn == low {
            entry.1 = row.ms;
        } else {
            entry.2 = Some(row.ms);
        }
    }
    Ok(ranks
        .into_iter()
        .map(|(key, (n, low_value, high_value))| {
            let position = (n - 1) as f64 * 0.95;
            let fraction = position - ((n - 1) * 95 / 100) as f64;
            let high = high_value.unwrap_or(low_value);
            (
                key,
                (n, low_value as f64 + fraction * (high - low_value) as f64),
            )
        })
        .collect())
}

/// Runs `wfmon`'s way and the raw way one after the other, once untimed (warm-up) and then
/// `reps` times timed; returns the last answer of each and the timings of each.
async fn time_both<A, B>(
    reps: usize,
    mut wfmon: impl AsyncFnMut() -> Result<A, Failure>,
    mut raw: impl AsyncFnMut() -> Result<B, Failure>,
) -> Result<(A, B, Timing, Timing), Failure> {
    let (mut wfmon_ms, mut raw_ms) = (Vec::new(), Vec::new());
    let mut last = None;
    for i in 0..=reps {
        let started = Instant::now();
        let answer = wfmon().await?;
        let took = started.elapsed();
        let started = Instant::now();
        let exact = raw().await?;
        let raw_took = started.elapsed();
        if i > 0 {
            wfmon_ms.push(ms(took));
            raw_ms.push(ms(raw_took));
        }
        last = Some((answer, exact));
    }
    let (answer, exact) = last.expect("the warm-up ran");
    Ok((answer, exact, timing(wfmon_ms), timing(raw_ms)))
}

fn timing(mut millis: Vec<f64>) -> Timing {
    millis.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = ((p * millis.len() as f64).ceil() as usize).clamp(1, millis.len()) - 1;
        millis[index]
    };
    Timing {
        p50_ms: rank(0.50),
        p99_ms: rank(0.99),
        max_ms: *millis.last().expect("at least one repetition"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(millis).expect("a time within the history")
}

/// Runs the benchmark.
pub async fn run(args: &AnalyticsBenchArgs) -> Result<(), Failure> {
    let url = DatabaseUrl::parse(&args.database)
        .map_err(|e| Failure::with_code(format!("--database: {e}"), EXIT_USAGE))?;
    let place = |e: &dyn std::fmt::Display| format!("--database {}: {e}", url.redacted());
    let store = Store::open(&url, OpenMode::ReadOnly)
        .await
        .map_err(|e| Failure::new(place(&e)))?;
    let raw = RawReader::connect(&url)
        .await
        .map_err(|e| Failure::new(place(&e)))?;
    let executions = store
        .count::<WorkflowExecution>()
        .await
        .map_err(|e| Failure::new(place(&e)))?;
    let last = raw
        .latest_start()
        .await
        .map_err(|e| Failure::new(place(&e)))?;
    let Some(last) = last.filter(|_| executions > 0) else {
        return Err(Failure::with_code(
            place(&"holds no executions: fill it first with `wfmon bench seed`"),
            EXIT_USAGE,
        ));
    };
    // Windows end at a midnight (UTC), the last of the history unless asked otherwise, so
    // that the day is whole.
    let end = args
        .until
        .unwrap_or(last)
        .min(last)
        .unix_millis()
        .div_euclid(DAY_MS)
        * DAY_MS;
    let reps = args.repetitions as usize;
    let mut measurements = Vec::new();

    // (a) The daily report.
    let (from, to) = (at(end - DAY_MS), at(end));
    let request = ReportRequest {
        scope: ReportScope {
            from,
            to,
            workflow: None,
            environment: None,
            workflows: None,
        },
        report_type: ReportType::Daily,
        name: Some("bench".into()),
        report_id: None,
        tags: Vec::new(),
    };
    let (report, exact, report_timing, raw_timing) = time_both(
        reps,
        async || {
            reports::compute(&store, &request)
                .await
                .map_err(|e| Failure::new(format!("the daily report: {e}")))
        },
        async || raw_day(&raw, from, to).await,
    )
    .await?;
    let m = &report.metadata;
    let workflows_agree = m.workflows.iter().all(|g| {
        exact
            .p95_per_workflow
            .get(&g.name)
            .is_some_and(|p| close(*p, g.p95_duration_ms))
    }) && m.workflows.len() == exact.p95_per_workflow.len();
    let agrees = report.row.total_runs == exact.runs
        && report.row.successful_runs == exact.passed
        && close(exact.p95, m.p95_duration_ms)
        && workflows_agree;
    measurements.push(measurement(
        "daily report (reports::compute, raw rows, exact)",
        (from, to),
        exact.runs,
        report_timing,
        raw_timing,
        format!(
            "runs {} vs {}, passed {} vs {}, p95 {:?} vs {:?} ms, p95 of {} workflows {}",
            report.row.total_runs,
            exact.runs,
            report.row.successful_runs,
            exact.passed,
            m.p95_duration_ms,
            exact.p95,
            m.workflows.len(),
            if workflows_agree { "equal" } else { "DIFFER" }
        ),
        agrees,
    ));

    // (b) The 30-day per-workflow p95 series.
    let (from, to) = (at(end - SERIES_DAYS * DAY_MS), at(end));
    let window = AnalyticsWindow {
        workflow: None,
        environment: None,
        since: from,
        until: to,
    };
    let (figures, exact, series_timing, raw_timing) = time_both(
        reps,
        async || {
            store
                .figures(&window, Some(DAY_MS))
                .await
                .map_err(|e| Failure::new(format!("the 30-day series: {e}")))
        },
        async || raw_series(&raw, from, to).await,
    )
    .await?;
    let mut compared = 0usize;
    let mut worst = 0.0f64;
    let mut missing = 0usize;
    let mut count_differs = 0usize;
    for f in &figures {
        for point in &f.points {
            if point.figures.runs == 0 {
                continue;
            }
            let day = point.bucket_start.to_string()[..10].to_owned();
            match exact.get(&(f.workflow_name.clone(), f.environment.clone(), day)) {
                Some((n, p95)) => {
                    compared += 1;
                    if *n != point.figures.runs {
                        count_differs += 1;
                    }
                    if let Some(sketch) = point.figures.p95_duration_ms {
                        worst = worst.max((sketch - p95).abs() / p95.abs().max(1.0));
                    }
                }
                None => missing += 1,
            }
        }
    }
    let raw_rows: i64 = exact.values().map(|(n, _)| n).sum();
    let agrees =
        compared == exact.len() && missing == 0 && count_differs == 0 && worst <= SKETCH_TOLERANCE;
    measurements.push(measurement(
        "30-day p95 series per workflow and environment (Store::figures, rollups)",
        (from, to),
        raw_rows,
        series_timing,
        raw_timing,
        format!(
            "{compared} of {} daily points compared ({missing} not in the raw figures, \
             {count_differs} with another run count); largest p95 difference {:.3}% \
             (allowed {:.0}%)",
            exact.len(),
            worst * 100.0,
            SKETCH_TOLERANCE * 100.0
        ),
        agrees,
    ));

    // (c) 30-day uptime, over the same window.
    let (uptime, exact, uptime_timing, raw_timing) = time_both(
        reps,
        async || {
            store
                .uptime(&window)
                .await
                .map_err(|e| Failure::new(format!("the 30-day uptime: {e}")))
        },
        async || raw_uptime(&raw, from, to).await,
    )
    .await?;
    let found: UptimeFigures = uptime
        .iter()
        .map(|u| {
            (
                (u.workflow_name.clone(), u.environment.clone()),
                (u.measured_minutes, u.up_minutes),
            )
        })
        .collect();
    let differ = exact
        .iter()
        .filter(|(key, figures)| found.get(*key) != Some(*figures))
        .count()
        + found.keys().filter(|key| !exact.contains_key(*key)).count();
    let (measured, up) = exact.values().fold((0, 0), |(m, u), (a, b)| (m + a, u + b));
    measurements.push(measurement(
        "30-day uptime per workflow and environment (Store::uptime, rollups)",
        (from, to),
        raw_rows,
        uptime_timing,
        raw_timing,
        format!(
            "{} workflow and environment pairs, {measured} measured minutes, {up} up; \
             {differ} pairs with other counts",
            exact.len()
        ),
        differ == 0,
    ));

    let out = Report {
        executions,
        repetitions: args.repetitions,
        measurements,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("plain data serialises")
        );
    } else {
        print_table(&out);
    }
    if out.measurements.iter().any(|m| !m.agrees) {
        return Err(Failure::new(
            "the figures of wfmon and of the raw rows disagree (see above)".to_owned(),
        ));
    }
    Ok(())
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

fn measurement(
    what: &str,
    (window_from, window_to): (Timestamp, Timestamp),
    raw_rows: i64,
    wfmon: Timing,
    raw: Timing,
    agreement: String,
    agrees: bool,
) -> Measurement {
    let speed_up = raw.p50_ms / wfmon.p50_ms.max(1e-9);
    Measurement {
        what: what.to_owned(),
        window_from,
        window_to,
        raw_rows,
        target_met: wfmon.p99_ms < TARGET_MS && speed_up >= TARGET_RATIO,
        wfmon,
        raw,
        speed_up,
        agreement,
        agrees,
    }
}

fn print_table(out: &Report) {
    println!(
        "{} executions in the store; {} timed repetitions of each (after a warm-up)\n",
        out.executions, out.repetitions
    );
    for m in &out.measurements {
        println!("{}", m.what);
        println!(
            "  window {} to {}, {} runs in the raw rows",
            m.window_from, m.window_to, m.raw_rows
        );
        println!(
            "  wfmon: p50 {:.1} ms, p99 {:.1} ms | raw rows: p50 {:.1} ms, p99 {:.1} ms | \
             raw / wfmon {:.1}x",
            m.wfmon.p50_ms, m.wfmon.p99_ms, m.raw.p50_ms, m.raw.p99_ms, m.speed_up
        );
        println!(
            "  figures: {} ({})",
            if m.agrees { "agree" } else { "DISAGREE" },
            m.agreement
        );
        println!(
            "  target (p99 under {TARGET_MS:.0} ms and at least {TARGET_RATIO:.0}x faster than \
             raw): {}\n",
            if m.target_met { "met" } else { "NOT met" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        assert_eq!(percentile(&[], 0.95), None);
        assert_eq!(percentile(&[7], 0.95), Some(7.0));
        // Rank 0.95 * 3 = 2.85: 300 + 0.85 * 100.
        let p = percentile(&[100, 200, 300, 400], 0.95).unwrap();
        assert!((p - 385.0).abs() < 1e-9, "{p}");
    }

    #[test]
    fn timings_take_nearest_ranks() {
        let t = timing(vec![5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((t.p50_ms, t.p99_ms, t.max_ms), (3.0, 5.0, 5.0));
    }
}
