//! The figures of `wfmon bench engine`, the targets, and how both are printed.

use serde::Serialize;

use super::memory::Footprint;
use super::precision::{Cadence, SchedulerCounts, Spread};
use super::throughput::{Measured, Method};

/// One throughput measurement with its derived figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThroughputRow {
    /// What was measured.
    #[serde(flatten)]
    pub measured: Measured,
    /// The table's name for it.
    pub label: &'static str,
    /// Counted checks per second.
    pub checks_per_second: f64,
    /// `checks_per_second` over the baseline's.
    pub ratio: f64,
    /// The whole process's CPU time (user + system) per counted check, µs.
    pub cpu_micros_per_check: f64,
    /// The target server's part of it, µs.
    pub target_cpu_micros_per_check: f64,
    /// The rest: the client side (wfmon, or the load loop), µs.
    pub own_cpu_micros_per_check: f64,
}

impl ThroughputRow {
    /// Derives the rates of `measured`; `baseline` is the baseline's checks/s.
    pub fn new(measured: Measured, baseline: f64) -> ThroughputRow {
        let rate = measured.counted as f64 / measured.seconds.max(f64::MIN_POSITIVE);
        let per_check =
            |d: std::time::Duration| d.as_secs_f64() * 1e6 / (measured.counted.max(1) as f64);
        ThroughputRow {
            label: measured.method.label(),
            checks_per_second: rate,
            ratio: if baseline > 0.0 { rate / baseline } else { 0.0 },
            cpu_micros_per_check: per_check(measured.cpu),
            target_cpu_micros_per_check: per_check(measured.target_cpu),
            own_cpu_micros_per_check: per_check(measured.cpu.saturating_sub(measured.target_cpu)),
            measured,
        }
    }
}

/// The throughput part of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThroughputReport {
    /// Seconds each method sends checks for.
    pub seconds: u32,
    /// Most checks each method sends, if bounded.
    pub max_checks: Option<u32>,
    /// Concurrent workers.
    pub workers: usize,
    /// The target's URL.
    pub target: String,
    /// One row per method, the baseline first.
    pub results: Vec<ThroughputRow>,
    /// Mean CPU time to build the runner's HTTP client (the runner builds one per run), µs.
    pub client_build_micros: f64,
    /// The same for a step with `verify_tls: false` (no system CA certificates loaded), µs.
    pub client_build_unverified_micros: f64,
    /// Why PostgreSQL was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postgres_skipped: Option<String>,
}

/// The precision part of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrecisionReport {
    /// Scheduled workflows (and baseline timers).
    pub workflows: usize,
    /// When they are due.
    pub cadence: Cadence,
    /// Plain tokio timers.
    pub baseline: Spread,
    /// `run_scheduler`: the workflows as the issue asks first, then with `verify_tls: false`.
    pub runs: Vec<SchedulerRun>,
}

/// One `run_scheduler` measurement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerRun {
    /// Whether the workflows' step verifies TLS certificates (loading the system's CA
    /// certificates for each run's HTTP client).
    pub verify_tls: bool,
    /// Start delays of the runs that started.
    pub delays: Spread,
    /// What the scheduler did.
    pub counts: SchedulerCounts,
}

/// The memory part of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryReport {
    /// The cron expression of the measured workflows.
    pub cron: &'static str,
    /// The trivial process first, then `wfmon run` by number of workflows.
    pub results: Vec<Footprint>,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `--quick`
    pub quick: bool,
    /// Throughput and CPU per check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<ThroughputReport>,
    /// Scheduling precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<PrecisionReport>,
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryReport>,
}

/// One goal from the issue, and whether this run met it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// What the issue asks for.
    pub goal: String,
    /// The bound.
    pub required: f64,
    /// This run's value.
    pub measured: f64,
    /// The unit of both.
    pub unit: &'static str,
    /// Whether `required` is an upper bound (else a lower one).
    pub at_most: bool,
    /// Whether the bound holds.
    pub met: bool,
}

impl Target {
    fn at_least(goal: String, required: f64, measured: f64, unit: &'static str) -> Target {
        Target {
            goal,
            required,
            measured,
            unit,
            at_most: false,
            met: measured >= required,
        }
    }

    fn at_most(goal: String, required: f64, measured: f64, unit: &'static str) -> Target {
        Target {
            goal,
            required,
            measured,
            unit,
            at_most: true,
            met: measured <= required,
        }
    }
}

/// Least throughput ratio wfmon/baseline.
const MIN_RATIO: f64 = 0.5;
/// Least persisted checks/s on SQLite.
const MIN_SQLITE_RATE: f64 = 10_000.0;
/// Most CPU per check, µs.
const MAX_CPU_MICROS: f64 = 100.0;
/// Most p99 start delay, ms.
const MAX_P99_MS: f64 = 5.0;
/// Most peak resident set at 1,000 workflows, MiB.
const MAX_PEAK_MIB: f64 = 40.0;

/// The targets, for the parts that were measured.
pub fn targets(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    if let Some(t) = &report.throughput {
        for row in t.results.iter().filter(|r| r.measured.method.records()) {
            let backend = if row.measured.method == Method::Sqlite {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            targets.push(Target::at_least(
                format!("{backend}: persisted checks/s within 2x of the baseline (ratio)"),
                MIN_RATIO,
                row.ratio,
                "",
            ));
            if row.measured.method == Method::Sqlite {
                targets.push(Target::at_least(
                    "SQLite: persisted checks/s".to_owned(),
                    MIN_SQLITE_RATE,
                    row.checks_per_second,
                    "/s",
                ));
                targets.push(Target::at_most(
                    "SQLite: CPU per check, whole process (target included)".to_owned(),
                    MAX_CPU_MICROS,
                    row.cpu_micros_per_check,
                    "µs",
                ));
            }
        }
    }
    if let Some(p) = &report.precision
        && let Some(run) = p.runs.iter().find(|r| r.verify_tls)
    {
        let skipped = run.counts.skipped;
        let mut target = Target::at_most(
            format!(
                "start delay p99, {} workflows on \"{}\"{}",
                p.workflows,
                p.cadence.expression,
                if skipped > 0 {
                    format!(" ({skipped} due runs SKIPPED)")
                } else {
                    String::new()
                }
            ),
            MAX_P99_MS,
            run.delays.p99_ms,
            "ms",
        );
        // A skipped run never started: no delay is good enough for it.
        target.met &= skipped == 0;
        targets.push(target);
    }
    if let Some(m) = &report.memory
        && let Some(f) = m.results.iter().find(|f| f.workflows == Some(1000))
    {
        targets.push(Target::at_most(
            "peak RSS (VmHWM) of wfmon run with 1,000 workflows".to_owned(),
            MAX_PEAK_MIB,
            mib(f.peak_kib),
            "MiB",
        ));
    }
    targets
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The report as JSON.
pub fn print_json(report: &Report, targets: &[Target]) {
    let mut value = serde_json::to_value(report).expect("JSON values serialise");
    value["targets"] = serde_json::to_value(targets).expect("JSON values serialise");
    println!(
        "{}",
        serde_json::to_string_pretty(&value).expect("JSON values serialise")
    );
}

/// The report as tables, then the targets.
pub fn print_table(report: &Report, targets: &[Target]) {
    if let Some(t) = &report.throughput {
        print_throughput(t);
    }
    if let Some(p) = &report.precision {
        print_precision(p);
    }
    if let Some(m) = &report.memory {
        print_memory(m);
    }
    println!("targets (from the issue)");
    for t in targets {
        let measured = match t.unit {
            "" => format!("{:.2}", t.measured),
            "/s" => format!("{}/s", thousands(t.measured)),
            unit => format!("{:.1} {unit}", t.measured),
        };
        let required = match t.unit {
            "" => format!("{:.2}", t.required),
            "/s" => format!("{}/s", thousands(t.required)),
            unit => format!("{} {unit}", t.required),
        };
        let bound = if t.at_most { "<=" } else { ">=" };
        println!(
            "  {:<62} {:>12}  ({bound} {required})  {}",
            t.goal,
            measured,
            if t.met { "met" } else { "MISSED" }
        );
    }
}

fn print_throughput(t: &ThroughputReport) {
    let budget = match t.max_checks {
        Some(n) => format!("{}s or {n} checks, whichever first", t.seconds),
        None => format!("{}s", t.seconds),
    };
    println!(
        "wfmon bench engine: throughput of single-request checks (GET {}/, assertion \
         status == 200), {} concurrent workers, {budget} per method",
        t.target, t.workers
    );
    println!();
    println!(
        "{:<36} {:>9} {:>7} {:>6} {:>5} {:>8} {:>6} {:>9} {:>9} {:>9}",
        "method",
        "checks/s",
        "counted",
        "failed",
        "lost",
        "seconds",
        "ratio",
        "CPU µs",
        "target µs",
        "own µs"
    );
    for r in &t.results {
        let m = &r.measured;
        println!(
            "{:<36} {:>9} {:>7} {:>6} {:>5} {:>8.3} {:>6.2} {:>9.1} {:>9.1} {:>9.1}",
            r.label,
            thousands(r.checks_per_second),
            m.counted,
            m.failed,
            m.lost,
            m.seconds,
            r.ratio,
            r.cpu_micros_per_check,
            r.target_cpu_micros_per_check,
            r.own_cpu_micros_per_check,
        );
    }
    println!();
    println!(
        "ratio = checks/s / baseline checks/s. Recorded rows count only PASSED executions found"
    );
    println!("in the database; the clock stops once the results writer has written everything.");
    println!(
        "CPU = getrusage(RUSAGE_SELF) user+sys over the measurement / counted checks; \"target\" is"
    );
    println!(
        "the in-process target server's threads, \"own\" the rest (client side, runner, writer,"
    );
    println!("SQLite). The PostgreSQL server's CPU is not included (another process).");
    for r in &t.results {
        if let Some(rows) = r.measured.rows_per_check {
            println!("{}: {rows:.1} rows per check", r.label);
        }
        if let Some(e) = &r.measured.first_error {
            println!("{}: first failure: {e}", r.label);
        }
    }
    println!(
        "building the runner's HTTP client (once per run, runner/http.rs): {:.0} µs CPU each; \
         {:.0} µs with verify_tls: false (no system CA certificates loaded)",
        t.client_build_micros, t.client_build_unverified_micros
    );
    if let Some(reason) = &t.postgres_skipped {
        println!("PostgreSQL skipped: {reason}");
    }
    println!();
}

fn print_precision(p: &PrecisionReport) {
    println!(
        "scheduling precision: {} workflows on \"{}\" (one GET of the target each, concurrency \
         {}), {} due times, run_scheduler on SQLite; baseline: {} tokio timers",
        p.workflows, p.cadence.expression, p.workflows, p.cadence.due_times, p.workflows
    );
    println!();
    println!(
        "{:<46} {:>8} {:>9} {:>9} {:>9}",
        "what", "samples", "p50 ms", "p99 ms", "max ms"
    );
    let mut rows = vec![(
        "baseline: tokio sleep until each due time".to_owned(),
        &p.baseline,
    )];
    for run in &p.runs {
        let label = if run.verify_tls {
            "wfmon run_scheduler: due time to start"
        } else {
            "same, steps with verify_tls: false"
        };
        rows.push((label.to_owned(), &run.delays));
    }
    for (label, s) in rows {
        println!(
            "{label:<46} {:>8} {:>9.2} {:>9.2} {:>9.2}",
            s.samples, s.p50_ms, s.p99_ms, s.max_ms
        );
    }
    println!();
    for run in &p.runs {
        let c = &run.counts;
        println!(
            "run_scheduler{}: {} runs started, {} due runs skipped (previous run still in flight), \
             {} aborted; {} results written, {} lost",
            if run.verify_tls {
                ""
            } else {
                " (verify_tls: false)"
            },
            c.started,
            c.skipped,
            c.aborted,
            c.written,
            c.lost
        );
    }
    println!();
}

fn print_memory(m: &MemoryReport) {
    println!(
        "memory: this binary's `wfmon run` as a child process on a fresh SQLite file, workflows on \
         \"{}\" (nothing runs while measured), read from /proc/PID/status 2 s after it is up",
        m.cron
    );
    println!();
    println!("{:<48} {:>10} {:>10}", "process", "VmRSS MiB", "VmHWM MiB");
    for f in &m.results {
        println!(
            "{:<48} {:>10.1} {:>10.1}",
            f.label,
            mib(f.rss_kib),
            mib(f.peak_kib)
        );
    }
    let peak = |n| {
        m.results
            .iter()
            .find(|f| f.workflows == Some(n))
            .map(|f| f.peak_kib)
    };
    if let (Some(a), Some(b)) = (peak(1000), peak(10_000)) {
        println!();
        println!(
            "from 1,000 to 10,000 workflows: {:.1} KiB of peak RSS per workflow",
            (b as f64 - a as f64) / 9000.0
        );
    }
    println!();
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
    use std::time::Duration;

    use super::*;

    fn measured(method: Method, counted: usize, seconds: f64, cpu_ms: u64) -> Measured {
        Measured {
            method,
            checks: counted,
            counted,
            failed: 0,
            lost: 0,
            rows_per_check: None,
            seconds,
            cpu: Duration::from_millis(cpu_ms),
            target_cpu: Duration::from_millis(cpu_ms / 4),
            first_error: None,
        }
    }

    #[test]
    fn rows_derive_rates_ratio_and_cpu_per_check() {
        let row = ThroughputRow::new(measured(Method::Sqlite, 1000, 0.5, 200), 4000.0);
        assert_eq!(row.checks_per_second, 2000.0);
        assert_eq!(row.ratio, 0.5);
        assert_eq!(row.cpu_micros_per_check, 200.0);
        assert_eq!(row.target_cpu_micros_per_check, 50.0);
        assert_eq!(row.own_cpu_micros_per_check, 150.0);
    }

    #[test]
    fn targets_are_checked_in_their_direction() {
        let rows = vec![
            ThroughputRow::new(measured(Method::Baseline, 1000, 0.1, 10), 10_000.0),
            ThroughputRow::new(measured(Method::Sqlite, 1000, 0.08, 50), 10_000.0),
            ThroughputRow::new(measured(Method::Postgres, 1000, 0.5, 50), 10_000.0),
        ];
        let report = Report {
            quick: true,
            throughput: Some(ThroughputReport {
                seconds: 1,
                max_checks: None,
                workers: 1,
                target: String::new(),
                results: rows,
                client_build_micros: 0.0,
                client_build_unverified_micros: 0.0,
                postgres_skipped: None,
            }),
            precision: None,
            memory: Some(MemoryReport {
                cron: "0 0 1 1 *",
                results: vec![Footprint {
                    label: String::new(),
                    workflows: Some(1000),
                    rss_kib: 30 * 1024,
                    peak_kib: 41 * 1024,
                }],
            }),
        };
        let targets = targets(&report);
        let met: Vec<(&str, bool)> = targets.iter().map(|t| (t.goal.as_str(), t.met)).collect();
        assert_eq!(
            met,
            [
                (
                    "SQLite: persisted checks/s within 2x of the baseline (ratio)",
                    true
                ),
                ("SQLite: persisted checks/s", true),
                (
                    "SQLite: CPU per check, whole process (target included)",
                    true
                ),
                (
                    "PostgreSQL: persisted checks/s within 2x of the baseline (ratio)",
                    false
                ),
                ("peak RSS (VmHWM) of wfmon run with 1,000 workflows", false),
            ]
        );
        assert_eq!(targets[0].measured, 1.25);
        assert_eq!(targets[4].measured, 41.0);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }
}
