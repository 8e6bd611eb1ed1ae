//! Executes one workflow in one environment end to end: writes the RUNNING row, runs it,
//! records the outcome with all its rows in one transaction, and retries failed runs as
//! separate, linked attempts (a run that passes only on retry is marked flaky).
//! Both `wfmon check` and the daemon go through here.

use wfmon_model::{ExecutionStatus, Timestamp};
use wfmon_store::{Store, StoreError};

use crate::config::{Config, Environment};
use crate::recorder::{RunIdentity, record_of};
use crate::runner::{RunContext, RunObserver, RunOutcome, run_workflow};
use crate::workflow::Workflow;

/// One finished attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Who it was.
    pub identity: RunIdentity,
    /// What happened.
    pub outcome: RunOutcome,
}

/// Something the executor could not write; the run itself still happened.
#[derive(Debug, thiserror::Error)]
#[error("run {run_id} of {workflow} in {environment} could not be recorded: {source}")]
pub struct RecordError {
    /// The run.
    pub run_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Its environment.
    pub environment: String,
    /// The store's error.
    #[source]
    pub source: StoreError,
}

/// Runs `workflow` in `environment` with its retry policy; records every attempt when a
/// store is given. Returns the attempts in order (the last one decides the outcome) and
/// the write errors met on the way.
pub async fn execute(
    config: &Config,
    workflow: &Workflow,
    environment: &Environment,
    first: RunIdentity,
    store: Option<&Store>,
    observer: &dyn RunObserver,
) -> (Vec<Attempt>, Vec<RecordError>) {
    let mut attempts = Vec::new();
    let mut errors = Vec::new();
    let mut identity = first;
    loop {
        let record_error = |source, identity: &RunIdentity| RecordError {
            run_id: identity.run_id.clone(),
            workflow: identity.workflow.clone(),
            environment: identity.environment.clone(),
            source,
        };
        if let Some(store) = store
            && let Err(e) = store
                .start_execution(&identity.started_row(Timestamp::now()))
                .await
        {
            errors.push(record_error(e, &identity));
        }
        let ctx = RunContext::new(identity.run_id.clone(), config.secrets.clone());
        let outcome = run_workflow(workflow, environment, &ctx, observer).await;
        let passed = outcome.status.is_success();
        let flaky = passed && identity.attempt > 1;
        if let Some(store) = store {
            let record = record_of(&identity, workflow, &outcome, flaky);
            if let Err(e) = store.record_executions(std::slice::from_ref(&record)).await {
                errors.push(record_error(e, &identity));
            }
        }
        let retry = !passed
            && outcome.status != ExecutionStatus::Aborted
            && identity.attempt < workflow.retries.attempts;
        let next = identity.retry();
        attempts.push(Attempt { identity, outcome });
        if !retry {
            return (attempts, errors);
        }
        tokio::time::sleep(workflow.retries.delay_before(next.attempt)).await;
        identity = next;
    }
}
