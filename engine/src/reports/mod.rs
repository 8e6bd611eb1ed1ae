//! Monitoring reports: what ran in a window `[from, to)`, composed from the store's exact
//! figures (`wfmon_store::reports`) into a `monitoring_reports` row and its metadata
//! (breakdowns per workflow and environment, percentiles, slowest and failing steps, failed
//! assertions, alerts, flaky runs, the change against the previous window of the same
//! length, and a series for charts), then printed (`render`, `html`) or saved with its
//! executions linked to it.
//!
//! An empty window gives a report that says so: its rates and averages are absent (null in
//! JSON), never a division by zero.

mod compose;
mod config;
pub mod delivery;
pub mod html;
pub mod render;
pub mod service;

use chrono::TimeDelta;
use wfmon_model::{MonitoringReport, NotificationLog, ReportType, Timestamp};
use wfmon_store::{ReportScope, SavedReport, Store, StoreError};

pub use compose::{
    AlertItem, AlertSummary, Change, GroupSummary, PreviousWindow, ReportMetadata, SeriesPoint,
    StepSummary,
};
pub(crate) use config::{RawReport, validate as validate_reports};
pub use config::{ReportSchedule, ReportWindow};
pub use render::{ReportFormat, render};
pub use service::Reporter;

use crate::config::Config;

/// The longest window a report may cover.
pub const MAX_WINDOW_DAYS: i64 = 400;

/// What can go wrong asking for a report; each names what and where.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `from` is not before `to`.
    #[error("report window is inverted or empty: from {from} is not before to {to}")]
    Inverted {
        /// Start asked for.
        from: Timestamp,
        /// End asked for.
        to: Timestamp,
    },
    /// The window is longer than `MAX_WINDOW_DAYS`, or starts in the future.
    #[error("report window {from} to {to} is not plausible: {reason}")]
    Absurd {
        /// Start asked for.
        from: Timestamp,
        /// End asked for.
        to: Timestamp,
        /// Why.
        reason: String,
    },
    /// The workflow is neither configured nor in the database.
    #[error("unknown workflow `{0}`: it is not in the configuration and never ran")]
    UnknownWorkflow(String),
    /// The environment is neither configured nor in the database.
    #[error("unknown environment `{0}`: it is not in the configuration and nothing ran there")]
    UnknownEnvironment(String),
    /// No configured workflow has the tag.
    #[error("unknown tag `{0}`: no workflow in the configuration has it")]
    UnknownTag(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A report to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    /// Window and filters.
    pub scope: ReportScope,
    /// Cadence it is produced for.
    pub report_type: ReportType,
    /// Name of the schedule that asked for it, if any.
    pub name: Option<String>,
    /// The report id; None: a new one.
    pub report_id: Option<String>,
    /// The tags the scope's `workflows` were resolved from (shown in the report).
    pub tags: Vec<String>,
}

/// A computed report: its row and its metadata (also inside the row, as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The `monitoring_reports` row.
    pub row: MonitoringReport,
    /// What the row's metadata holds, typed.
    pub metadata: ReportMetadata,
}

/// Checks a window: `from` before `to`, at most `MAX_WINDOW_DAYS` long, not starting after
/// `now`.
pub fn check_window(from: Timestamp, to: Timestamp, now: Timestamp) -> Result<(), ReportError> {
    if from >= to {
        return Err(ReportError::Inverted { from, to });
    }
    let absurd = |reason: String| ReportError::Absurd { from, to, reason };
    if to.as_datetime() - from.as_datetime() > TimeDelta::days(MAX_WINDOW_DAYS) {
        return Err(absurd(format!("longer than {MAX_WINDOW_DAYS} days")));
    }
    if from > now {
        return Err(absurd("it starts in the future".to_owned()));
    }
    Ok(())
}

/// The configured workflows with at least one of `tags`, for `ReportScope::workflows`
/// (None without tags); an error names the first tag no workflow has.
pub fn tagged_workflows(
    config: &Config,
    tags: &[String],
) -> Result<Option<Vec<String>>, ReportError> {
    if tags.is_empty() {
        return Ok(None);
    }
    if let Some(unknown) = tags
        .iter()
        .find(|t| !config.workflows.iter().any(|w| w.tags.contains(t)))
    {
        return Err(ReportError::UnknownTag(unknown.clone()));
    }
    Ok(Some(
        config
            .workflows
            .iter()
            .filter(|w| w.tags.iter().any(|t| tags.contains(t)))
            .map(|w| w.name.clone())
            .collect(),
    ))
}

/// Checks the window and that the filters name a workflow and an environment that the
/// configuration (if given) or the database knows.
pub async fn check_request(
    store: &Store,
    config: Option<&Config>,
    scope: &ReportScope,
) -> Result<(), ReportError> {
    check_window(scope.from, scope.to, Timestamp::now())?;
    if let Some(workflow) = &scope.workflow {
        let configured = config.is_some_and(|c| c.workflows.iter().any(|w| &w.name == workflow));
        if !configured && !store.knows_workflow(workflow).await? {
            return Err(ReportError::UnknownWorkflow(workflow.clone()));
        }
    }
    if let Some(environment) = &scope.environment {
        let configured = config.is_some_and(|c| c.environments.contains_key(environment));
        if !configured && !store.knows_environment(environment).await? {
            return Err(ReportError::UnknownEnvironment(environment.clone()));
        }
    }
    Ok(())
}

/// Computes a report from the store's figures (nothing is written).
pub async fn compute(store: &Store, request: &ReportRequest) -> Result<Report, ReportError> {
    let figures = compose::Figures::read(store, &request.scope).await?;
    Ok(compose::compose(request, figures, Timestamp::now()))
}

/// Saves a computed report: its row, its executions linked to it and its notifications
/// queued, in one transaction; nothing when a report with the same id exists.
pub async fn save(
    store: &Store,
    report: &Report,
    scope: &ReportScope,
    notifications: &[NotificationLog],
) -> Result<SavedReport, ReportError> {
    Ok(store.save_report(&report.row, scope, notifications).await?)
}

/// The id of a scheduled report: the schedule's name and the window, so that every
/// instance that generates it derives the same id and only the first one's row is kept.
pub fn scheduled_report_id(name: &str, from: Timestamp, to: Timestamp) -> String {
    let stamp = |t: Timestamp| t.as_datetime().format("%Y%m%dT%H%M%SZ").to_string();
    format!("report_{name}_{}_{}", stamp(from), stamp(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn windows_must_be_forward_bounded_and_not_in_the_future() {
        let now = at("2026-06-01T00:00:00Z");
        assert!(check_window(at("2026-05-01T00:00:00Z"), at("2026-05-02T00:00:00Z"), now).is_ok());
        let inverted = check_window(at("2026-05-02T00:00:00Z"), at("2026-05-01T00:00:00Z"), now)
            .unwrap_err()
            .to_string();
        assert!(inverted.contains("inverted"), "{inverted}");
        let same = check_window(now, now, now).unwrap_err();
        assert!(matches!(same, ReportError::Inverted { .. }));
        let long = check_window(at("2020-01-01T00:00:00Z"), now, now)
            .unwrap_err()
            .to_string();
        assert!(long.contains("longer than 400 days"), "{long}");
        let future = check_window(at("2027-01-01T00:00:00Z"), at("2027-01-02T00:00:00Z"), now)
            .unwrap_err()
            .to_string();
        assert!(future.contains("future"), "{future}");
    }

    #[test]
    fn scheduled_ids_depend_on_name_and_window_only() {
        let id = scheduled_report_id(
            "daily-ops",
            at("2026-05-01T00:00:00Z"),
            at("2026-05-02T00:00:00Z"),
        );
        assert_eq!(id, "report_daily-ops_20260501T000000Z_20260502T000000Z");
    }
}
