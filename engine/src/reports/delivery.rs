//! From a saved report to the notification outbox: one notice carrying the report's digest
//! (headline figures, change against the previous window, worst workflows, most failing
//! steps), which each channel lays out its own way (Slack sections, a Discord embed, a Teams
//! card, an HTML email with a text part, a webhook body), and one PENDING row per channel of
//! the report's schedule, linked to the report by its id. The outbox sender delivers them
//! and marks the report notified.

use serde_json::json;
use wfmon_model::{
    AlertSeverity, NotificationLog, NotificationStatus, NotificationType, Timestamp,
    json as to_json, new_id,
};

use super::Report;
use super::compose::GroupSummary;
use super::render::{ms, rate, signed};
use crate::config::Config;
use crate::notify::digest::{DIGEST_TOP, DigestStep, DigestWorkflow, ReportDigest};
use crate::notify::{Notice, build_channel};

/// Where people open the report: `server.public_url`, else `notifications.dashboard_url`,
/// followed by the dashboard's page of the report; None when neither is configured.
pub fn report_link(report_id: &str, config: &Config) -> Option<String> {
    let base = config
        .server
        .public_url
        .as_ref()
        .or(config.notifications.dashboard_url.as_ref())?;
    Some(format!(
        "{}/reports/{report_id}",
        base.trim_end_matches('/')
    ))
}

/// The workflows that did worst: lowest success rate first, then most failures, then
/// highest p95.
fn worst_workflows(groups: &[GroupSummary], config: &Config) -> Vec<DigestWorkflow> {
    let mut sorted: Vec<&GroupSummary> = groups.iter().filter(|g| g.runs > 0).collect();
    sorted.sort_by(|a, b| {
        a.success_rate
            .unwrap_or(1.0)
            .total_cmp(&b.success_rate.unwrap_or(1.0))
            .then(b.failed.cmp(&a.failed))
            .then(
                b.p95_duration_ms
                    .unwrap_or_default()
                    .total_cmp(&a.p95_duration_ms.unwrap_or_default()),
            )
            .then(a.name.cmp(&b.name))
    });
    sorted
        .into_iter()
        .take(DIGEST_TOP)
        .map(|g| DigestWorkflow {
            name: config.redact(&g.name),
            runs: g.runs,
            failed: g.failed,
            success_rate: g.success_rate,
            p95_duration_ms: g.p95_duration_ms,
        })
        .collect()
}

/// The digest of a report, every text redacted.
pub fn digest(report: &Report, name: &str, config: &Config) -> ReportDigest {
    let m = &report.metadata;
    let r = &report.row;
    let workflows = match (&m.workflow, m.tags.is_empty()) {
        (Some(w), _) => format!("workflow {w}"),
        (None, false) => format!("workflows tagged {}", m.tags.join(", ")),
        (None, true) => "all workflows".to_owned(),
    };
    let scope = format!(
        "{workflows}, {}",
        m.environment.as_ref().map_or_else(
            || "all environments".to_owned(),
            |e| format!("environment {e}")
        ),
    );
    ReportDigest {
        name: name.to_owned(),
        report_type: r.report_type.to_string(),
        from: Some(r.start_time),
        to: Some(r.end_time),
        scope: config.redact(&scope),
        empty: m.empty,
        runs: r.total_runs,
        passed: r.successful_runs,
        failed: r.failed_runs,
        success_rate: m.success_rate,
        p95_duration_ms: m.p95_duration_ms,
        change_runs: m.change.runs,
        change_success_rate: m.change.success_rate,
        change_p95_duration_ms: m.change.p95_duration_ms,
        worst_workflows: worst_workflows(&m.workflows, config),
        failing_steps: m
            .failing_steps
            .iter()
            .take(DIGEST_TOP)
            .map(|s| DigestStep {
                workflow: config.redact(&s.workflow),
                step: config.redact(&s.step),
                failures: s.failures,
                runs: s.runs,
            })
            .collect(),
        alerts_opened: m.alerts.opened,
        alerts_resolved: m.alerts.resolved,
        alerts_open_at_end: m.alerts.open_at_end,
    }
}

/// The notice of a report.
pub fn notice(report: &Report, name: &str, config: &Config) -> Notice {
    let m = &report.metadata;
    let r = &report.row;
    let mut summary = m.summary.clone();
    if !m.empty {
        summary.push_str(&format!(
            " Success rate {} ({} vs the previous window), p95 {} ({}).",
            rate(m.success_rate),
            signed(m.change.success_rate.map(|v| v * 100.0), " pt"),
            ms(m.p95_duration_ms),
            signed(m.change.p95_duration_ms, " ms"),
        ));
        if let Some(step) = m.failing_steps.first() {
            summary.push_str(&format!(
                " Most failing step: {} in {} ({} failures).",
                step.step, step.workflow, step.failures
            ));
        }
        if m.alerts.opened > 0 || m.alerts.open_at_end > 0 {
            summary.push_str(&format!(
                " Alerts: {} opened, {} resolved, {} open at the end.",
                m.alerts.opened, m.alerts.resolved, m.alerts.open_at_end
            ));
        }
    }
    Notice {
        kind: NotificationType::Report,
        severity: AlertSeverity::Info,
        rule: name.to_owned(),
        workflow: m
            .workflow
            .clone()
            .unwrap_or_else(|| "all workflows".to_owned()),
        environment: m
            .environment
            .clone()
            .unwrap_or_else(|| "all environments".to_owned()),
        title: format!(
            "{} report {}: {} to {}",
            r.report_type, name, r.start_time, r.end_time
        ),
        summary: config.redact(&summary),
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
        triggered_at: r.generated_at,
        link: report_link(&r.report_id, config),
        report: Some(digest(report, name, config)),
    }
}

/// One PENDING outbox row per configured channel in `channels` (unknown names are left
/// out: validation rejects them).
pub fn notifications(
    report: &Report,
    name: &str,
    channels: &[String],
    config: &Config,
) -> Vec<NotificationLog> {
    let notice = notice(report, name, config);
    let now = Timestamp::now();
    channels
        .iter()
        .filter_map(|channel| {
            let configured = config.notifications.channels.get(channel)?;
            let built = build_channel(configured, config.notifications.delivery.timeout);
            Some(NotificationLog {
                id: new_id("ntf"),
                log_id: new_id("ntf"),
                channel: built.kind(),
                notification_type: NotificationType::Report,
                status: NotificationStatus::Pending,
                message: notice.text(),
                recipient: Some(built.describe()),
                subject: Some(notice.title.clone()),
                sent_at: now,
                delivery_status: None,
                error_message: None,
                retry_count: 0,
                metadata: Some(to_json(json!({ "notice": notice }))),
                execution_id: None,
                report_id: Some(report.row.report_id.clone()),
                alert_id: None,
                channel_name: Some(channel.clone()),
                next_attempt_at: None,
                claimed_by: None,
                claimed_until: None,
                created_at: now,
            })
        })
        .collect()
}
