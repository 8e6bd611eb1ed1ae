//! The figures of `wfmon bench store`, the targets, and how both are printed.

use serde::{Serialize, Serializer};
use wfmon_store::Backend;

use super::rows;

/// How rows were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Method {
    /// Plain multi-row INSERT written directly with sqlx.
    Baseline,
    /// `Store::record_executions`.
    Recording,
}

impl Method {
    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Method::Baseline => "raw multi-row INSERT baseline",
            Method::Recording => "wfmon record_executions",
        }
    }
}

/// One timed write of every execution by one method on one backend.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// `sqlite` or `postgres` in JSON.
    #[serde(serialize_with = "backend_key")]
    pub backend: Backend,
    /// How the rows were written.
    pub method: Method,
    /// Executions written.
    pub executions: usize,
    /// Rows written (8 per execution).
    pub rows: usize,
    /// Wall-clock time of all batches, commits included.
    pub seconds: f64,
    /// Executions per second.
    pub executions_per_second: f64,
    /// Rows per second.
    pub rows_per_second: f64,
    /// This method's throughput over the baseline's on the same backend (1 for the baseline).
    pub ratio: f64,
}

impl Measurement {
    /// The figures of `executions` executions written in `seconds`.
    pub fn new(
        backend: Backend,
        method: Method,
        executions: usize,
        seconds: f64,
        ratio: f64,
    ) -> Measurement {
        let rows = executions * rows::ROWS_PER_EXECUTION;
        Measurement {
            backend,
            method,
            executions,
            rows,
            seconds,
            executions_per_second: executions as f64 / seconds,
            rows_per_second: rows as f64 / seconds,
            ratio,
        }
    }
}

/// One goal from the issue, and whether this run met it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `sqlite` or `postgres` in JSON.
    #[serde(serialize_with = "backend_key")]
    pub backend: Backend,
    /// What the issue asks for.
    pub goal: String,
    /// The least acceptable value (a ratio, or executions/s).
    pub required: f64,
    /// This run's value.
    pub measured: f64,
    /// Whether `measured >= required`.
    pub met: bool,
}

/// "Within 2x of the raw baseline": the least ratio recording/baseline throughput.
const MIN_RATIO: f64 = 0.5;

/// The least executions/s of the recording on a backend.
fn min_rate(backend: Backend) -> f64 {
    match backend {
        Backend::Sqlite => 20_000.0,
        Backend::Postgres => 10_000.0,
    }
}

/// The targets, checked against every recording measurement.
pub fn targets(measurements: &[Measurement]) -> Vec<Target> {
    let mut targets = Vec::new();
    for m in measurements
        .iter()
        .filter(|m| m.method == Method::Recording)
    {
        targets.push(Target {
            backend: m.backend,
            goal: "recording within 2x of the raw baseline (ratio >= 0.50)".to_owned(),
            required: MIN_RATIO,
            measured: m.ratio,
            met: m.ratio >= MIN_RATIO,
        });
        let required = min_rate(m.backend);
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

fn backend_key<S: Serializer>(backend: &Backend, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    })
}

/// The report as JSON.
pub fn print_json(
    executions: usize,
    batch: usize,
    measurements: &[Measurement],
    targets: &[Target],
) {
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
}

/// The report as a table, then the targets.
pub fn print_table(
    executions: usize,
    batch: usize,
    measurements: &[Measurement],
    targets: &[Target],
) {
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
            m.backend.to_string(),
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
            t.backend.to_string(),
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
    fn targets_are_checked_on_the_recording_only() {
        let baseline = Measurement::new(Backend::Sqlite, Method::Baseline, 1000, 0.01, 1.0);
        let recording = Measurement::new(Backend::Sqlite, Method::Recording, 1000, 0.1, 0.1);
        let targets = targets(&[baseline, recording]);
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].measured, 0.1);
        assert!(!targets[0].met);
        assert_eq!(targets[1].required, 20_000.0);
        assert!(!targets[1].met);
    }

    #[test]
    fn json_names_the_backend_and_method() {
        let m = Measurement::new(Backend::Postgres, Method::Recording, 10, 1.0, 1.0);
        let value = serde_json::to_value(&m).unwrap();
        assert_eq!(value["backend"], "postgres");
        assert_eq!(value["method"], "recording");
        assert_eq!(value["rows"], 80);
        assert_eq!(value["executionsPerSecond"], 10.0);
    }
}
