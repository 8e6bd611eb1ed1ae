//! Executes one workflow in one environment end to end: writes the RUNNING row, runs it,
//! records the outcome with all its rows in one transaction, and retries failed runs as
//! separate, linked attempts (a run that passes only on retry is marked flaky).
//! Both `wfmon check` and the daemon go through here.

use std::sync::Mutex;

use tokio::sync::watch;
use wfmon_model::{ExecutionStatus, Timestamp};
use wfmon_store::{ScheduleTally, Store, StoreError};

use crate::config::{Config, Environment};
use crate::recorder::{AttemptFate, RunIdentity, record_of};
use crate::runner::{RunContext, RunObserver, RunOutcome, StepOutcome, run_workflow};
use crate::workflow::Workflow;
use crate::writer::{ResultWriter, WriteJob};

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

/// Where the executor writes what happens.
#[derive(Clone, Copy)]
pub enum Recording<'a> {
    /// Nowhere (`wfmon check --no-record`).
    Off,
    /// Straight to the store; a failed write is returned as a `RecordError`.
    Direct(&'a Store),
    /// Through the daemon's buffered writer. The closure gives the schedule count to write
    /// with the last attempt (it is told whether the run succeeded).
    Queued(&'a ResultWriter, &'a TallyFn<'a>),
}

/// Makes the schedule count of a scheduled run from whether it succeeded.
pub type TallyFn<'a> = dyn Fn(bool) -> Option<ScheduleTally> + Send + Sync + 'a;

/// Why a run may be stopped before it ends.
pub type AbortSignal = watch::Receiver<Option<String>>;

/// Runs `workflow` in `environment` with its retry policy and records every attempt.
/// Returns the attempts in order (the last one decides the outcome) and the write errors met
/// on the way. When `abort` receives a reason, the attempt in flight stops at once (its
/// cleanup steps do not run) and is recorded as ABORTED with that reason and the steps it
/// finished.
pub async fn execute(
    config: &Config,
    workflow: &Workflow,
    environment: &Environment,
    first: RunIdentity,
    recording: Recording<'_>,
    observer: &dyn RunObserver,
    abort: Option<AbortSignal>,
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
        let started_row = identity.started_row(Timestamp::now());
        match recording {
            Recording::Off => {}
            Recording::Direct(store) => {
                if let Err(e) = store.start_execution(&started_row).await {
                    errors.push(record_error(e, &identity));
                }
            }
            Recording::Queued(writer, _) => {
                writer.send(WriteJob::Started(Box::new(started_row)));
            }
        }
        let ctx = RunContext::new(identity.run_id.clone(), config.secrets.clone());
        let outcome = run_or_abort(workflow, environment, &ctx, observer, abort.clone()).await;
        let passed = outcome.status.is_success();
        let flaky = passed && identity.attempt > 1;
        let aborted = outcome.status == ExecutionStatus::Aborted;
        let retry = !passed && !aborted && identity.attempt < workflow.retries.attempts;
        let fate = if retry {
            AttemptFate::RetryFollows
        } else if flaky {
            AttemptFate::PassedOnRetry
        } else {
            AttemptFate::Final
        };
        let record = record_of(&identity, workflow, &outcome, fate);
        match recording {
            Recording::Off => {}
            Recording::Direct(store) => {
                if let Err(e) = store.record_executions(std::slice::from_ref(&record)).await {
                    errors.push(record_error(e, &identity));
                }
            }
            Recording::Queued(writer, tally) => {
                let tally = if retry { None } else { tally(passed) };
                // The count is of this execution: written again, or after a sweep closed it,
                // it moves the counts instead of adding a run.
                let tally = tally.map(|t| ScheduleTally {
                    run_id: Some(record.execution.run_id.clone()),
                    ..t
                });
                writer.send(WriteJob::Finished(Box::new(record), tally));
            }
        }
        let next = identity.retry();
        attempts.push(Attempt { identity, outcome });
        if !retry {
            return (attempts, errors);
        }
        let delay = tokio::time::sleep(workflow.retries.delay_before(next.attempt));
        if let Some(mut abort) = abort.clone() {
            tokio::select! {
                () = delay => {}
                _ = abort.wait_for(Option::is_some) => return (attempts, errors),
            }
        } else {
            delay.await;
        }
        identity = next;
    }
}

/// Runs one attempt; if `abort` fires first, ends it as ABORTED with the steps finished so far.
async fn run_or_abort(
    workflow: &Workflow,
    environment: &Environment,
    ctx: &RunContext,
    observer: &dyn RunObserver,
    abort: Option<AbortSignal>,
) -> RunOutcome {
    let Some(mut abort) = abort else {
        return run_workflow(workflow, environment, ctx, observer).await;
    };
    let started_at = Timestamp::now();
    let started = std::time::Instant::now();
    let collector = Collector {
        inner: observer,
        steps: Mutex::new(Vec::new()),
    };
    let reason = {
        let run = run_workflow(workflow, environment, ctx, &collector);
        tokio::select! {
            outcome = run => return outcome,
            reason = abort.wait_for(Option::is_some) => reason
                .ok()
                .and_then(|r| r.clone())
                .unwrap_or_else(|| "aborted".to_string()),
        }
    };
    let steps = collector.steps.into_inner().unwrap_or_default();
    RunOutcome {
        status: ExecutionStatus::Aborted,
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        tests_passed: steps.iter().map(StepOutcome::tests_passed).sum(),
        tests_failed: steps.iter().map(StepOutcome::tests_failed).sum(),
        tests_total: steps.iter().map(StepOutcome::tests_total).sum(),
        steps,
        error: Some(reason),
        breached_thresholds: Vec::new(),
    }
}

/// Passes events on and keeps the finished steps, for a run that may be cut short.
struct Collector<'a> {
    inner: &'a dyn RunObserver,
    steps: Mutex<Vec<StepOutcome>>,
}

impl RunObserver for Collector<'_> {
    fn step_started(&self, order: u32, step: &crate::workflow::Step) {
        self.inner.step_started(order, step);
    }

    fn step_finished(&self, outcome: &StepOutcome) {
        self.steps.lock().expect("steps").push(outcome.clone());
        self.inner.step_finished(outcome);
    }
}
