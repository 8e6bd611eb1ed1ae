//! From a saved report to the notification outbox: one notice (a summary every channel can
//! render: Slack blocks, an email, a chat message, a webhook body) and one PENDING row per
//! channel of the report's schedule, linked to the report by its id. The outbox sender
//! delivers them and marks the report notified.

use serde_json::json;
use wfmon_model::{
    AlertSeverity, NotificationLog, NotificationStatus, NotificationType, Timestamp,
    json as to_json, new_id,
};

use super::Report;
use super::render::{ms, rate, signed};
use crate::config::Config;
use crate::notify::{Notice, build_channel};

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
        link: config
            .notifications
            .dashboard_url
            .as_ref()
            .map(|base| format!("{base}/api/reports/{}", r.report_id)),
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
