//! The daemon's reporter: for each `reports:` schedule, the report of the latest due time,
//! generated once however many instances run. Each instance derives the same report id from
//! the schedule's name and the window; the row is inserted only if no row has that id, and
//! its executions and notifications go in the same transaction, so the second instance
//! writes nothing and nothing is sent twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use wfmon_model::{MonitoringReport, Timestamp};
use wfmon_store::{ReportScope, SavedReport, Store};

use super::config::ReportSchedule;
use super::{
    Report, ReportError, ReportRequest, compute, delivery, save, scheduled_report_id,
    tagged_workflows,
};
use crate::config::Config;
use crate::events::{Event, EventBus};

/// Longest sleep between two looks at the schedules.
const POLL: Duration = Duration::from_secs(60);

/// Generates scheduled reports.
pub struct Reporter {
    store: Store,
    config: Arc<Config>,
    events: EventBus,
    nudge: Arc<Notify>,
}

impl Reporter {
    /// A reporter of `config`'s schedules; `nudge` wakes the outbox sender when a report's
    /// notifications are queued.
    pub fn new(store: Store, config: Arc<Config>, events: EventBus, nudge: Arc<Notify>) -> Self {
        Reporter {
            store,
            config,
            events,
            nudge,
        }
    }

    /// The report of `schedule` due at `due`, if this call wrote it (None: it existed).
    pub async fn generate_due(
        &self,
        schedule: &ReportSchedule,
        due: Timestamp,
    ) -> Result<Option<Report>, ReportError> {
        let (from, to) = schedule.window_ending(due);
        let report_id = scheduled_report_id(&schedule.name, from, to);
        if self
            .store
            .get::<MonitoringReport>(&report_id)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let request = ReportRequest {
            scope: ReportScope {
                from,
                to,
                workflow: schedule.workflow.clone(),
                environment: schedule.environment.clone(),
                workflows: tagged_workflows(&self.config, &schedule.tags)?,
            },
            report_type: schedule.report_type,
            name: Some(schedule.name.clone()),
            report_id: Some(report_id),
            tags: schedule.tags.clone(),
        };
        let report = compute(&self.store, &request).await?;
        let queued =
            delivery::notifications(&report, &schedule.name, &schedule.channels, &self.config);
        match save(&self.store, &report, &request.scope, &queued).await? {
            SavedReport::Exists => Ok(None),
            SavedReport::Created { linked } => {
                tracing::info!(
                    report = %report.row.report_id,
                    runs = report.row.total_runs,
                    linked,
                    "report `{}` generated",
                    schedule.name
                );
                self.events.publish(Event::ReportGenerated {
                    report_id: report.row.report_id.clone(),
                    report_type: report.row.report_type,
                    start_time: report.row.start_time,
                    end_time: report.row.end_time,
                    total_runs: report.row.total_runs,
                    success_rate: report.metadata.success_rate,
                });
                if !queued.is_empty() {
                    self.nudge.notify_one();
                }
                Ok(Some(report))
            }
        }
    }

    /// Generates every schedule's latest due report (the one just due, or the last one
    /// missed while no instance ran), until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let now = Timestamp::now();
            let mut wait = POLL;
            for schedule in &self.config.reports {
                if let Some(due) = schedule.last_due(now)
                    && let Err(e) = self.generate_due(schedule, due).await
                {
                    tracing::warn!("report `{}` not generated: {e}", schedule.name);
                }
                if let Some(next) = schedule.next_due(now) {
                    let until = (next.unix_millis() - Timestamp::now().unix_millis()).max(0);
                    wait = wait.min(Duration::from_millis(until as u64 + 50));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
