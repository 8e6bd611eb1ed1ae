//! What a report notification carries besides its title and summary: the report's headline
//! figures, its worst workflows and its most failing steps, stored with the outbox row (in
//! the notice) so that each channel can lay a report out its own way at send time (Slack
//! sections, a Discord embed, a Teams card, an HTML email) from the same values.

use serde::{Deserialize, Serialize};
use wfmon_model::Timestamp;

/// Entries kept in each list of a digest: a message is read at a glance.
pub const DIGEST_TOP: usize = 5;

/// A report, as its notifications show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportDigest {
    /// The schedule's name (or `on demand`).
    pub name: String,
    /// HOURLY, DAILY, ... as stored in the row.
    pub report_type: String,
    /// Window start (inclusive).
    pub from: Option<Timestamp>,
    /// Window end (exclusive).
    pub to: Option<Timestamp>,
    /// Which runs it covers, in words (`all workflows, production`).
    pub scope: String,
    /// No run in the window.
    pub empty: bool,
    /// Runs.
    pub runs: i64,
    /// Passed runs.
    pub passed: i64,
    /// Failed runs.
    pub failed: i64,
    /// Ratio in [0, 1]; None without runs.
    pub success_rate: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
    /// Runs minus the previous window's.
    pub change_runs: i64,
    /// Success ratio minus the previous window's.
    pub change_success_rate: Option<f64>,
    /// p95 minus the previous window's.
    pub change_p95_duration_ms: Option<f64>,
    /// Workflows with the lowest success rate (then the highest p95), at most `DIGEST_TOP`.
    pub worst_workflows: Vec<DigestWorkflow>,
    /// Steps that failed most, at most `DIGEST_TOP`.
    pub failing_steps: Vec<DigestStep>,
    /// Alerts opened in the window.
    pub alerts_opened: i64,
    /// Alerts resolved in the window.
    pub alerts_resolved: i64,
    /// Alerts still open at its end.
    pub alerts_open_at_end: i64,
}

/// One workflow of a digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DigestWorkflow {
    /// Workflow.
    pub name: String,
    /// Runs.
    pub runs: i64,
    /// Failed runs.
    pub failed: i64,
    /// Ratio; None without runs.
    pub success_rate: Option<f64>,
    /// 95th percentile duration.
    pub p95_duration_ms: Option<f64>,
}

/// One step of a digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DigestStep {
    /// Workflow.
    pub workflow: String,
    /// Step.
    pub step: String,
    /// Times it failed.
    pub failures: i64,
    /// Times it ran.
    pub runs: i64,
}

/// `97.5%`, or `-` when absent.
pub fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// `123 ms`, or `-` when absent.
pub fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"))
}

/// `+1.5 pt`, `-20 ms`, or `-` when absent.
fn signed(value: Option<f64>, decimals: usize, unit: &str) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:+.decimals$}{unit}"))
}

impl ReportDigest {
    /// `2026-03-01T00:00:00.000Z to 2026-03-02T00:00:00.000Z`.
    pub fn window(&self) -> String {
        let show = |t: Option<Timestamp>| t.map_or_else(|| "?".to_owned(), |t| t.to_string());
        format!("{} to {}", show(self.from), show(self.to))
    }

    /// The change against the previous window, in one line.
    pub fn change(&self) -> String {
        format!(
            "runs {:+}, success {}, p95 {}",
            self.change_runs,
            signed(self.change_success_rate.map(|r| r * 100.0), 1, " pt"),
            signed(self.change_p95_duration_ms, 0, " ms"),
        )
    }

    /// The headline figures, labelled, in display order.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Report", self.name.clone()),
            ("Window", self.window()),
            ("Covers", self.scope.clone()),
            (
                "Runs",
                format!(
                    "{} ({} passed, {} failed)",
                    self.runs, self.passed, self.failed
                ),
            ),
            ("Success rate", percent(self.success_rate)),
            ("p95 duration", millis(self.p95_duration_ms)),
            ("Change vs previous window", self.change()),
            (
                "Alerts",
                format!(
                    "{} opened, {} resolved, {} open at the end",
                    self.alerts_opened, self.alerts_resolved, self.alerts_open_at_end
                ),
            ),
        ]
    }

    /// The worst workflows, one line each.
    pub fn workflow_lines(&self) -> Vec<String> {
        self.worst_workflows
            .iter()
            .map(|w| {
                format!(
                    "{}: {} success, {} of {} failed, p95 {}",
                    w.name,
                    percent(w.success_rate),
                    w.failed,
                    w.runs,
                    millis(w.p95_duration_ms)
                )
            })
            .collect()
    }

    /// The most failing steps, one line each.
    pub fn step_lines(&self) -> Vec<String> {
        self.failing_steps
            .iter()
            .map(|s| {
                format!(
                    "{} / {}: {} failures in {} runs",
                    s.workflow, s.step, s.failures, s.runs
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_text_and_absent_values_as_a_dash() {
        let digest = ReportDigest {
            name: "daily-ops".into(),
            runs: 40,
            passed: 39,
            failed: 1,
            success_rate: Some(0.975),
            p95_duration_ms: Some(812.4),
            change_runs: -2,
            change_success_rate: Some(-0.02),
            change_p95_duration_ms: None,
            worst_workflows: vec![DigestWorkflow {
                name: "checkout".into(),
                runs: 20,
                failed: 1,
                success_rate: Some(0.95),
                p95_duration_ms: None,
            }],
            ..ReportDigest::default()
        };
        let facts = digest.facts();
        assert!(facts.contains(&("Runs", "40 (39 passed, 1 failed)".into())));
        assert!(facts.contains(&("Success rate", "97.5%".into())));
        assert!(facts.contains(&("p95 duration", "812 ms".into())));
        assert_eq!(digest.change(), "runs -2, success -2.0 pt, p95 -");
        assert_eq!(
            digest.workflow_lines(),
            ["checkout: 95.0% success, 1 of 20 failed, p95 -"]
        );
        assert_eq!(digest.window(), "? to ?");
    }
}
