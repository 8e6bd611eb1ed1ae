//! From an alert change to outbox rows: the notice (what failed, which step and assertion,
//! expected and actual, duration, environment, link) and one row per channel it goes to,
//! PENDING, or SUPPRESSED with the reason (silence, maintenance window, dependency).

use std::collections::BTreeMap;

use serde_json::json;
use wfmon_model::{
    Alert, ExecutionStatus, NotificationChannel, NotificationLog, NotificationStatus,
    NotificationType, StepStatus, Timestamp, json as to_json, new_id,
};
use wfmon_store::ExecutionDetail;

use super::rules::AlertRule;
use crate::config::Config;
use crate::notify::Notice;

/// What the evaluator knows of each configured channel: its kind and its redacted
/// description.
pub(crate) type ChannelDirectory = BTreeMap<String, (NotificationChannel, String)>;

/// The channels a rule's notifications of `kind` go to.
pub(crate) fn channels_for(
    rule: &AlertRule,
    kind: NotificationType,
    config: &Config,
) -> Vec<String> {
    let routed = || {
        config
            .notifications
            .routes
            .get(&rule.severity)
            .cloned()
            .unwrap_or_default()
    };
    let base = if rule.channels.is_empty() {
        routed()
    } else {
        rule.channels.clone()
    };
    if kind == NotificationType::Escalation && !rule.escalate_to.is_empty() {
        rule.escalate_to.clone()
    } else {
        base
    }
}

/// The notice of an alert, with the details of the run that triggered it, if any.
pub(crate) fn notice(
    kind: NotificationType,
    rule: &AlertRule,
    alert: &Alert,
    detail: Option<&ExecutionDetail>,
    config: &Config,
) -> Notice {
    let what = match kind {
        NotificationType::Recovery => "RESOLVED".to_owned(),
        NotificationType::Reminder => format!("Still open, {}", alert.severity),
        NotificationType::Escalation => format!("ESCALATED, {}", alert.severity),
        _ => alert.severity.to_string(),
    };
    let title = format!(
        "{what}: {} in {} ({})",
        alert.workflow_name, alert.environment, rule.name
    );
    let summary = match (kind, &rule.description) {
        (NotificationType::Recovery, _) => format!("Recovered: {}", alert.message),
        (_, Some(description)) => format!("{}. {description}", alert.message),
        _ => alert.message.clone(),
    };
    let mut notice = Notice {
        kind,
        severity: alert.severity,
        rule: rule.name.clone(),
        workflow: alert.workflow_name.clone(),
        environment: alert.environment.clone(),
        title,
        summary: config.redact(&summary),
        alert_id: Some(alert.alert_id.clone()),
        run_id: None,
        run_status: None,
        failed_step: None,
        assertion: None,
        expected: None,
        actual: None,
        error: None,
        duration_ms: None,
        occurrences: alert.occurrences,
        triggered_at: alert.triggered_at,
        link: None,
        report: None,
    };
    if let Some(detail) = detail {
        let e = &detail.execution;
        notice.run_id = Some(e.run_id.clone());
        notice.run_status = Some(e.status.to_string());
        notice.duration_ms = e.duration_ms.map(i64::from);
        if !e.status.is_success() {
            notice.error = e.error_message.as_deref().map(|m| config.redact(m));
        }
        let failed = detail
            .steps
            .iter()
            .find(|s| matches!(s.status, StepStatus::Failed | StepStatus::TimedOut));
        if let Some(step) = failed.filter(|_| e.status != ExecutionStatus::Passed) {
            notice.failed_step = Some(step.step_name.clone());
            notice.assertion = step.failed_assertion.clone();
            let failed_assertion = step
                .assertions
                .as_ref()
                .and_then(|a| a.0.as_array())
                .and_then(|list| {
                    list.iter()
                        .find(|a| a.get("passed") == Some(&serde_json::Value::Bool(false)))
                });
            if let Some(a) = failed_assertion {
                let text = |key: &str| {
                    a.get(key).filter(|v| !v.is_null()).map(|v| match v {
                        serde_json::Value::String(s) => config.redact(s),
                        other => config.redact(&other.to_string()),
                    })
                };
                notice.expected = text("expected");
                notice.actual = text("actual");
                if notice.assertion.is_none() {
                    notice.assertion = text("expression");
                }
            }
            if notice.error.is_none() {
                notice.error = step.error_message.as_deref().map(|m| config.redact(m));
            }
        }
    }
    if let Some(base) = &config.notifications.dashboard_url {
        notice.link = Some(match &notice.run_id {
            Some(run_id) => format!("{base}/executions/{run_id}"),
            None => format!("{base}/alerts/{}", alert.alert_id),
        });
    }
    notice
}

/// One outbox row per channel: PENDING, or SUPPRESSED with `suppressed` as the reason.
pub(crate) fn rows(
    notice: &Notice,
    channels: &[String],
    directory: &ChannelDirectory,
    execution_id: Option<&str>,
    suppressed: Option<&str>,
) -> Vec<NotificationLog> {
    let now = Timestamp::now();
    channels
        .iter()
        .filter_map(|name| {
            let (kind, description) = directory.get(name)?;
            Some(NotificationLog {
                id: new_id("ntf"),
                log_id: new_id("ntf"),
                channel: *kind,
                notification_type: notice.kind,
                status: if suppressed.is_some() {
                    NotificationStatus::Suppressed
                } else {
                    NotificationStatus::Pending
                },
                message: notice.text(),
                recipient: Some(description.clone()),
                subject: Some(notice.title.clone()),
                sent_at: now,
                delivery_status: None,
                error_message: suppressed.map(str::to_owned),
                retry_count: 0,
                metadata: Some(to_json(json!({ "notice": notice }))),
                execution_id: execution_id.map(str::to_owned),
                report_id: None,
                alert_id: notice.alert_id.clone(),
                channel_name: Some(name.clone()),
                next_attempt_at: None,
                claimed_by: None,
                claimed_until: None,
                created_at: now,
            })
        })
        .collect()
}
