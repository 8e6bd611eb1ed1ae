//! From the store's figures to a report: the row (totals, success ratio, average) and the
//! typed metadata it carries as JSON.

use serde::{Deserialize, Serialize};
use wfmon_model::{
    AlertSeverity, AlertStatus, MonitoringReport, ReportStatus, RollupBucket, Timestamp, json,
    new_id,
};
use wfmon_store::{
    AlertFigures, AssertionFailures, GroupFigures, ReportScope, ReportStepFigures, Store,
    StoreError,
};

use super::{Report, ReportRequest};

/// Entries kept in each top list (slowest steps, failing steps, failed assertions).
pub const TOP: usize = 10;

/// Alerts and flaky run ids listed (their counts are exact regardless).
pub const LISTED: u32 = 50;

/// Windows up to this long get minute buckets in their series; longer ones hour buckets.
const MINUTE_SERIES_UP_TO_HOURS: i64 = 6;

/// A report's metadata: everything beyond the row's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportMetadata {
    /// The schedule that produced it, if any.
    pub name: Option<String>,
    /// Workflow filter.
    pub workflow: Option<String>,
    /// Environment filter.
    pub environment: Option<String>,
    /// Tag filter: only the workflows with one of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// No run in the window.
    pub empty: bool,
    /// One sentence saying what the window held.
    pub summary: String,
    /// `passed / runs` as a ratio; null without runs.
    pub success_rate: Option<f64>,
    /// Mean duration; null without durations.
    pub avg_duration_ms: Option<f64>,
    /// Shortest duration.
    pub min_duration_ms: Option<i64>,
    /// Longest duration.
    pub max_duration_ms: Option<i64>,
    /// Median duration.
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile duration.
    pub p99_duration_ms: Option<f64>,
    /// Runs that passed with a warning.
    pub warnings: i64,
    /// Runs that passed only after failed attempts.
    pub flaky_runs: i64,
    /// Their run ids (the first `LISTED`).
    pub flaky_run_ids: Vec<String>,
    /// Per workflow.
    pub workflows: Vec<GroupSummary>,
    /// Per environment.
    pub environments: Vec<GroupSummary>,
    /// Steps with the highest p95 duration.
    pub slowest_steps: Vec<StepSummary>,
    /// Steps that failed most often.
    pub failing_steps: Vec<StepSummary>,
    /// Assertions that failed most often (the first failed one of each step).
    pub failing_assertions: Vec<AssertionFailures>,
    /// Alerts open at some time in the window.
    pub alerts: AlertSummary,
    /// The previous window of the same length.
    pub previous: PreviousWindow,
    /// This window minus the previous one; null where either side has no value.
    pub change: Change,
    /// Bucket width of `series`: `MINUTE` or `HOUR`.
    pub series_bucket: String,
    /// Runs per bucket (buckets without runs left out), for charts.
    pub series: Vec<SeriesPoint>,
}

/// The runs of one workflow or environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupSummary {
    /// Workflow or environment.
    pub name: String,
    /// Runs.
    pub runs: i64,
    /// Passed (PASSED or WARNING).
    pub passed: i64,
    /// Failed.
    pub failed: i64,
    /// Flaky.
    pub flaky: i64,
    /// Ratio in [0, 1]; null without runs.
    pub success_rate: Option<f64>,
    /// Sum of durations.
    pub total_duration_ms: i64,
    /// Mean duration.
    pub avg_duration_ms: Option<f64>,
    /// Median.
    pub p50_duration_ms: Option<f64>,
    /// 95th percentile.
    pub p95_duration_ms: Option<f64>,
    /// 99th percentile.
    pub p99_duration_ms: Option<f64>,
}

/// One step of one workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StepSummary {
    /// Workflow.
    pub workflow: String,
    /// Step.
    pub step: String,
    /// Times it ran.
    pub runs: i64,
    /// Times it failed.
    pub failures: i64,
    /// Mean duration.
    pub avg_duration_ms: f64,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
    /// Longest duration.
    pub max_duration_ms: i64,
}

/// Alerts of the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertSummary {
    /// Opened in the window.
    pub opened: i64,
    /// Resolved in the window.
    pub resolved: i64,
    /// Still open at its end.
    pub open_at_end: i64,
    /// The first `LISTED` of them, oldest first.
    pub items: Vec<AlertItem>,
}

/// One alert, without its message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertItem {
    /// Episode id.
    pub alert_id: String,
    /// Rule.
    pub rule_id: String,
    /// Workflow.
    pub workflow: String,
    /// Environment.
    pub environment: String,
    /// Severity.
    pub severity: AlertSeverity,
    /// Status now.
    pub status: AlertStatus,
    /// Opened.
    pub triggered_at: Timestamp,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
}

/// The window before, for comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreviousWindow {
    /// Its start.
    pub from: Option<Timestamp>,
    /// Its end (this window's start).
    pub to: Option<Timestamp>,
    /// Runs.
    pub runs: i64,
    /// Failed runs.
    pub failed: i64,
    /// Ratio; null without runs.
    pub success_rate: Option<f64>,
    /// Mean duration.
    pub avg_duration_ms: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
}

/// This window minus the previous.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Change {
    /// Runs.
    pub runs: i64,
    /// Failed runs.
    pub failed: i64,
    /// Success ratio (a difference of ratios, e.g. -0.05).
    pub success_rate: Option<f64>,
    /// Mean duration.
    pub avg_duration_ms: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
}

/// One bucket of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    /// Bucket start.
    pub bucket_start: Timestamp,
    /// Runs.
    pub runs: i64,
    /// Ratio.
    pub success_rate: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
}

/// Everything read from the store for one report.
pub(crate) struct Figures {
    total: GroupFigures,
    previous: GroupFigures,
    previous_scope: ReportScope,
    workflows: Vec<GroupFigures>,
    environments: Vec<GroupFigures>,
    steps: Vec<ReportStepFigures>,
    assertions: Vec<AssertionFailures>,
    flaky_run_ids: Vec<String>,
    alerts: AlertFigures,
    bucket: RollupBucket,
    series: Vec<wfmon_store::SeriesPoint>,
}

impl Figures {
    /// Reads every figure of a scope.
    pub(crate) async fn read(store: &Store, scope: &ReportScope) -> Result<Figures, StoreError> {
        let previous_scope = scope.previous();
        let length = scope.to.as_datetime() - scope.from.as_datetime();
        let bucket = if length <= chrono::TimeDelta::hours(MINUTE_SERIES_UP_TO_HOURS) {
            RollupBucket::Minute
        } else {
            RollupBucket::Hour
        };
        // Four independent reads, each on its own connection of the pool, at once: the
        // window's runs and its steps each take about half of a day's report.
        let (runs, steps, previous, alerts) = tokio::try_join!(
            store.report_runs(scope, bucket, LISTED),
            store.report_steps(scope, TOP as u32),
            store.report_total(&previous_scope),
            store.report_alerts(scope, LISTED),
        )?;
        Ok(Figures {
            total: runs.total,
            previous,
            previous_scope,
            workflows: runs.workflows,
            environments: runs.environments,
            steps: steps.steps,
            assertions: steps.assertions,
            flaky_run_ids: runs.flaky_run_ids,
            alerts,
            bucket,
            series: runs.series,
        })
    }
}

fn group_summary(g: &GroupFigures) -> GroupSummary {
    GroupSummary {
        name: g.name.clone(),
        runs: g.runs,
        passed: g.passed,
        failed: g.failed,
        flaky: g.flaky,
        success_rate: g.success_rate(),
        total_duration_ms: g.duration_sum_ms,
        avg_duration_ms: g.avg_duration_ms(),
        p50_duration_ms: g.p50_duration_ms,
        p95_duration_ms: g.p95_duration_ms,
        p99_duration_ms: g.p99_duration_ms,
    }
}

fn step_summary(s: &ReportStepFigures) -> StepSummary {
    StepSummary {
        workflow: s.workflow_name.clone(),
        step: s.step_name.clone(),
        runs: s.runs,
        failures: s.failures,
        avg_duration_ms: s.avg_duration_ms,
        p95_duration_ms: s.p95_duration_ms,
        max_duration_ms: s.max_duration_ms,
    }
}

fn difference(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some(now? - before?)
}

/// Formats a ratio as a percentage with one decimal.
pub(crate) fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// The report of a request from its figures, generated at `now`.
pub(crate) fn compose(request: &ReportRequest, f: Figures, now: Timestamp) -> Report {
    let scope = &request.scope;
    let total = &f.total;
    let empty = total.runs == 0;
    let summary = if empty {
        format!("No runs between {} and {}.", scope.from, scope.to)
    } else {
        let mut text = format!(
            "{} runs: {} passed, {} failed ({} success)",
            total.runs,
            total.passed,
            total.failed,
            percent(total.success_rate().unwrap_or_default())
        );
        if let Some(p95) = total.p95_duration_ms {
            text.push_str(&format!(", p95 {p95:.0} ms"));
        }
        text.push('.');
        text
    };
    let mut slowest: Vec<&ReportStepFigures> = f.steps.iter().collect();
    slowest.sort_by(|a, b| {
        b.p95_duration_ms
            .unwrap_or_default()
            .total_cmp(&a.p95_duration_ms.unwrap_or_default())
            .then(b.avg_duration_ms.total_cmp(&a.avg_duration_ms))
            .then((&a.workflow_name, &a.step_name).cmp(&(&b.workflow_name, &b.step_name)))
    });
    let mut failing: Vec<&ReportStepFigures> = f.steps.iter().filter(|s| s.failures > 0).collect();
    failing.sort_by(|a, b| {
        b.failures
            .cmp(&a.failures)
            .then((&a.workflow_name, &a.step_name).cmp(&(&b.workflow_name, &b.step_name)))
    });
    let previous = &f.previous;
    let metadata = ReportMetadata {
        name: request.name.clone(),
        workflow: scope.workflow.clone(),
        environment: scope.environment.clone(),
        tags: request.tags.clone(),
        empty,
        summary,
        success_rate: total.success_rate(),
        avg_duration_ms: total.avg_duration_ms(),
        min_duration_ms: total.min_duration_ms,
        max_duration_ms: total.max_duration_ms,
        p50_duration_ms: total.p50_duration_ms,
        p95_duration_ms: total.p95_duration_ms,
        p99_duration_ms: total.p99_duration_ms,
        warnings: total.warnings,
        flaky_runs: total.flaky,
        flaky_run_ids: f.flaky_run_ids,
        workflows: f.workflows.iter().map(group_summary).collect(),
        environments: f.environments.iter().map(group_summary).collect(),
        slowest_steps: slowest.into_iter().take(TOP).map(step_summary).collect(),
        failing_steps: failing.into_iter().take(TOP).map(step_summary).collect(),
        failing_assertions: f.assertions,
        alerts: AlertSummary {
            opened: f.alerts.opened,
            resolved: f.alerts.resolved,
            open_at_end: f.alerts.open_at_end,
            items: f
                .alerts
                .alerts
                .iter()
                .map(|a| AlertItem {
                    alert_id: a.alert_id.clone(),
                    rule_id: a.rule_id.clone(),
                    workflow: a.workflow_name.clone(),
                    environment: a.environment.clone(),
                    severity: a.severity,
                    status: a.status,
                    triggered_at: a.triggered_at,
                    resolved_at: a.resolved_at,
                })
                .collect(),
        },
        previous: PreviousWindow {
            from: Some(f.previous_scope.from),
            to: Some(f.previous_scope.to),
            runs: previous.runs,
            failed: previous.failed,
            success_rate: previous.success_rate(),
            avg_duration_ms: previous.avg_duration_ms(),
            p95_duration_ms: previous.p95_duration_ms,
        },
        change: Change {
            runs: total.runs - previous.runs,
            failed: total.failed - previous.failed,
            success_rate: difference(total.success_rate(), previous.success_rate()),
            avg_duration_ms: difference(total.avg_duration_ms(), previous.avg_duration_ms()),
            p95_duration_ms: difference(total.p95_duration_ms, previous.p95_duration_ms),
        },
        series_bucket: f.bucket.as_str().to_owned(),
        series: f
            .series
            .iter()
            .map(|p| SeriesPoint {
                bucket_start: p.bucket_start,
                runs: p.stats.runs,
                success_rate: p.stats.success_rate,
                p95_duration_ms: p.stats.p95_duration_ms,
            })
            .collect(),
    };
    let row = MonitoringReport {
        id: new_id("rep"),
        report_id: request
            .report_id
            .clone()
            .unwrap_or_else(|| new_id("report")),
        start_time: scope.from,
        end_time: scope.to,
        total_runs: total.runs,
        successful_runs: total.passed,
        failed_runs: total.failed,
        total_duration_ms: total.duration_sum_ms,
        avg_duration_ms: total.avg_duration_ms().unwrap_or_default(),
        success_rate: total.success_rate().unwrap_or_default(),
        status: ReportStatus::Completed,
        report_type: request.report_type,
        generated_at: now,
        notified: false,
        notified_at: None,
        metadata: Some(json(
            serde_json::to_value(&metadata).expect("report metadata is plain data"),
        )),
        created_at: now,
        updated_at: now,
    };
    Report { row, metadata }
}
