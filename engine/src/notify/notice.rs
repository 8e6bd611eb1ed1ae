//! What a notification says, independent of the channel: stored with the outbox row (in its
//! metadata) and rendered by each channel at send time.

use serde::{Deserialize, Serialize};
use wfmon_model::{AlertSeverity, NotificationType, Timestamp};

use super::digest::ReportDigest;

/// The content of one notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Alert, recovery, reminder, escalation or test.
    pub kind: NotificationType,
    /// Severity of the alert.
    pub severity: AlertSeverity,
    /// The rule that fired.
    pub rule: String,
    /// Workflow.
    pub workflow: String,
    /// Environment.
    pub environment: String,
    /// One line: what happened.
    pub title: String,
    /// Why the rule fired (or recovered), in a sentence.
    pub summary: String,
    /// The alert episode.
    pub alert_id: Option<String>,
    /// The execution that triggered it.
    pub run_id: Option<String>,
    /// Status of that execution.
    pub run_status: Option<String>,
    /// The first step that failed.
    pub failed_step: Option<String>,
    /// The assertion that failed in it.
    pub assertion: Option<String>,
    /// Its expected value.
    pub expected: Option<String>,
    /// Its actual value.
    pub actual: Option<String>,
    /// The error message (redacted).
    pub error: Option<String>,
    /// How long the run took.
    pub duration_ms: Option<i64>,
    /// Times the alert triggered in this episode.
    pub occurrences: i32,
    /// When the episode started.
    pub triggered_at: Timestamp,
    /// Link to the run (or the alert, or the report) in the dashboard.
    pub link: Option<String>,
    /// A report's figures, for a report notification (channels lay them out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportDigest>,
}

impl Notice {
    /// Labelled facts, in display order, skipping what is unknown; a report's headline
    /// figures for a report notification.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        if let Some(report) = &self.report {
            return report.facts();
        }
        let mut out = vec![
            ("Workflow", self.workflow.clone()),
            ("Environment", self.environment.clone()),
            ("Severity", self.severity.to_string()),
            ("Rule", self.rule.clone()),
        ];
        let optional = [
            ("Failed step", &self.failed_step),
            ("Assertion", &self.assertion),
            ("Expected", &self.expected),
            ("Actual", &self.actual),
            ("Error", &self.error),
            ("Run", &self.run_id),
        ];
        for (label, value) in optional {
            if let Some(value) = value {
                out.push((label, value.clone()));
            }
        }
        if let Some(ms) = self.duration_ms {
            out.push(("Duration", format!("{ms} ms")));
        }
        if self.occurrences > 1 {
            out.push(("Occurrences", self.occurrences.to_string()));
        }
        out
    }

    /// Plain text: title, summary, facts (and a report's lists) and link, one per line.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n{}\n", self.title, self.summary);
        for (label, value) in self.facts() {
            out.push_str(&format!("{label}: {value}\n"));
        }
        if let Some(report) = &self.report {
            for (heading, lines) in [
                ("Worst workflows", report.workflow_lines()),
                ("Top failing steps", report.step_lines()),
            ] {
                if !lines.is_empty() {
                    out.push_str(&format!("{heading}:\n"));
                    for line in lines {
                        out.push_str(&format!("- {line}\n"));
                    }
                }
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("Details: {link}\n"));
        }
        out
    }

    /// A test message for `wfmon notify test`.
    pub fn test(channel: &str) -> Notice {
        Notice {
            kind: NotificationType::Test,
            severity: AlertSeverity::Info,
            rule: "test".into(),
            workflow: "-".into(),
            environment: "-".into(),
            title: format!("wfmon test notification to {channel}"),
            summary: "If you can read this, the channel works.".into(),
            alert_id: None,
            run_id: None,
            run_status: None,
            failed_step: None,
            assertion: None,
            expected: None,
            actual: None,
            error: None,
            duration_ms: None,
            occurrences: 1,
            triggered_at: Timestamp::now(),
            link: None,
            report: None,
        }
    }
}

/// Escapes text for HTML (element content and quoted attribute values).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts text to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
