//! Runs started on request ("run now" from the API or the dashboard), outside the schedule:
//! recorded through the daemon's results writer and announced on the event bus like
//! scheduled runs, with `triggered_by` saying who asked.

use std::sync::Arc;

use wfmon_model::{Timestamp, TriggeredBy, new_id};

use crate::config::Config;
use crate::events::{Event, EventBus};
use crate::executor::{Recording, execute};
use crate::recorder::RunIdentity;
use crate::runner::NoObserver;
use crate::writer::ResultWriter;

/// Why a run could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// No workflow of that name.
    #[error("no workflow `{0}` in the configuration")]
    UnknownWorkflow(String),
    /// The workflow does not run in that environment.
    #[error(
        "workflow `{workflow}` does not run in environment `{environment}` (it runs in: {known})"
    )]
    UnknownEnvironment {
        /// The workflow.
        workflow: String,
        /// The environment asked for.
        environment: String,
        /// The environments it runs in, comma-separated.
        known: String,
    },
}

/// A run that was started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    /// Its run id (the first attempt's, if it is retried).
    pub run_id: String,
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
}

/// Starts runs now; cheap to clone.
#[derive(Clone)]
pub struct Trigger {
    config: Arc<Config>,
    writer: ResultWriter,
    events: EventBus,
    instance: String,
}

impl Trigger {
    /// Runs of `config`, written by `writer`, announced on `events`, by `instance`.
    pub fn new(
        config: Arc<Config>,
        writer: ResultWriter,
        events: EventBus,
        instance: String,
    ) -> Trigger {
        Trigger {
            config,
            writer,
            events,
            instance,
        }
    }

    /// The configuration runs are started from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts `workflow` now in `environment`, or in each of its environments; returns at
    /// once with the runs started (they go on in the background).
    pub fn run_now(
        &self,
        workflow: &str,
        environment: Option<&str>,
        triggered_by: TriggeredBy,
    ) -> Result<Vec<Started>, TriggerError> {
        let w = self
            .config
            .workflow(workflow)
            .ok_or_else(|| TriggerError::UnknownWorkflow(workflow.to_string()))?;
        let environments: Vec<String> = match environment {
            Some(e) if w.environments.iter().any(|x| x == e) => vec![e.to_string()],
            Some(e) => {
                return Err(TriggerError::UnknownEnvironment {
                    workflow: workflow.to_string(),
                    environment: e.to_string(),
                    known: w.environments.join(", "),
                });
            }
            None => w.environments.clone(),
        };
        let mut started = Vec::new();
        for environment in environments {
            let identity = RunIdentity {
                run_id: new_id("run"),
                workflow: w.name.clone(),
                environment: environment.clone(),
                triggered_by,
                attempt: 1,
                first_run_id: None,
                schedule_id: None,
                instance_id: self.instance.clone(),
                due_at: None,
            };
            started.push(Started {
                run_id: identity.run_id.clone(),
                workflow_name: w.name.clone(),
                environment: environment.clone(),
            });
            let this = self.clone();
            let name = w.name.clone();
            tokio::spawn(async move { this.run(&name, identity).await });
        }
        Ok(started)
    }

    async fn run(&self, workflow: &str, identity: RunIdentity) {
        let Some(w) = self.config.workflow(workflow) else {
            return;
        };
        let environment = &self.config.environments[&identity.environment];
        self.events.publish(Event::RunStarted {
            run_id: identity.run_id.clone(),
            workflow_name: identity.workflow.clone(),
            environment: identity.environment.clone(),
            started_at: Timestamp::now(),
        });
        let no_tally = |_: bool| None;
        let (attempts, _) = execute(
            &self.config,
            w,
            environment,
            identity,
            Recording::Queued(&self.writer, &no_tally),
            &NoObserver,
            None,
        )
        .await;
        if let Some(last) = attempts.last() {
            self.events.publish(Event::RunFinished {
                run_id: last.identity.run_id.clone(),
                workflow_name: last.identity.workflow.clone(),
                environment: last.identity.environment.clone(),
                status: last.outcome.status,
                duration_ms: last.outcome.duration_ms,
                error_message: last.outcome.error.clone(),
                completed_at: Timestamp::now(),
            });
        }
    }
}
