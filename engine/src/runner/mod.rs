//! The runner: executes one workflow in one environment and returns what happened, step by
//! step. It never touches the database (the recorder turns a `RunOutcome` into rows) and
//! never fails: every fault of the target becomes a status and a precise, redacted message.
//!
//! Steps run in order and stop at the first failure (unless the step says
//! `continue_on_failure`); the steps not run are recorded as SKIPPED. Cleanup steps always
//! run afterwards, each within its own timeout, even after a failure or the workflow timeout.

mod assertions;
mod capture;
mod command;
mod health;
mod http;
mod junit;
mod outcome;
pub(crate) mod redact;
mod step;
mod thresholds;
mod tls;
mod units;
mod variables;

use std::time::Instant;

use wfmon_model::{ExecutionStatus, StepStatus, Timestamp};

pub use outcome::{
    AssertionOutcome, HealthOutcome, RunOutcome, StepOutcome, TestCaseOutcome, ThresholdBreach,
};

use crate::config::Environment;
use crate::workflow::{Step, Workflow};
use step::RunState;
use units::{human, millis};

/// What a run needs from outside the workflow definition.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The execution's id, `{{ run_id }}` in templates.
    pub run_id: String,
    /// Values never to show in a message (`Config::secrets`).
    pub secrets: Vec<String>,
    /// Bytes kept of each output stream of a command (its end), for messages and assertions.
    pub output_cap: usize,
    /// Largest response body read; a larger one fails the step.
    pub body_cap: usize,
}

impl RunContext {
    /// A context with the default limits: 64 KiB of command output, 10 MiB bodies.
    pub fn new(run_id: impl Into<String>, secrets: Vec<String>) -> RunContext {
        RunContext {
            run_id: run_id.into(),
            secrets,
            output_cap: 64 * 1024,
            body_cap: 10 * 1024 * 1024,
        }
    }
}

/// Follows a run as it goes (`wfmon check` prints each step). Called from the run's task.
pub trait RunObserver: Send + Sync {
    /// A step is about to run (not called for skipped steps).
    fn step_started(&self, _order: u32, _step: &Step) {}
    /// A step ended, or was skipped.
    fn step_finished(&self, _outcome: &StepOutcome) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl RunObserver for NoObserver {}

/// Runs `workflow` against `environment`.
pub async fn run_workflow(
    workflow: &Workflow,
    environment: &Environment,
    ctx: &RunContext,
    observer: &dyn RunObserver,
) -> RunOutcome {
    let started_at = Timestamp::now();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + workflow.timeout;
    let mut state = RunState {
        ctx,
        vars: variables::initial(workflow, environment, ctx),
        redactor: redact::Redactor::new(&ctx.secrets),
        clients: http::HttpClients::new(),
    };
    let mut steps = Vec::with_capacity(workflow.steps.len() + workflow.cleanup.len());
    let mut halted: Option<String> = None;
    let mut timed_out = false;
    for step in &workflow.steps {
        let order = order_of(steps.len());
        if let Some(reason) = &halted {
            let mut skipped = step::blank(order, step, false, StepStatus::Skipped);
            skipped.error = Some(reason.clone());
            observer.step_finished(&skipped);
            steps.push(skipped);
            continue;
        }
        observer.step_started(order, step);
        let step_start = (Timestamp::now(), Instant::now());
        let run = step::run_step(step, order, false, &mut state);
        let outcome = match tokio::time::timeout_at(deadline, run).await {
            Ok(outcome) => outcome,
            Err(_) => {
                timed_out = true;
                let mut cut = step::blank(order, step, false, StepStatus::TimedOut);
                cut.started_at = step_start.0;
                cut.duration_ms = millis(step_start.1.elapsed());
                let message = format!(
                    "the workflow timeout of {} expired during this step",
                    human(workflow.timeout)
                );
                step::not_evaluated(&mut cut, step, message, true);
                cut
            }
        };
        if timed_out {
            halted = Some(format!(
                "skipped: the workflow timeout of {} expired",
                human(workflow.timeout)
            ));
        } else if outcome.is_failure() && !step.continue_on_failure {
            halted = Some(format!("skipped: step `{}` failed", step.name));
        }
        observer.step_finished(&outcome);
        steps.push(outcome);
    }
    for step in &workflow.cleanup {
        let order = order_of(steps.len());
        observer.step_started(order, step);
        let outcome = step::run_step(step, order, true, &mut state).await;
        observer.step_finished(&outcome);
        steps.push(outcome);
    }
    let duration_ms = millis(started.elapsed());
    let breached_thresholds = thresholds::check(&workflow.thresholds, duration_ms, &mut steps);
    let (status, error) = verdict(&steps, &breached_thresholds, timed_out);
    RunOutcome {
        status,
        started_at,
        duration_ms,
        tests_passed: steps.iter().map(StepOutcome::tests_passed).sum(),
        tests_failed: steps.iter().map(StepOutcome::tests_failed).sum(),
        tests_total: steps.iter().map(StepOutcome::tests_total).sum(),
        steps,
        error,
        breached_thresholds,
    }
}

/// The run's status and its first failure (or first warning).
fn verdict(
    steps: &[StepOutcome],
    breaches: &[ThresholdBreach],
    timed_out: bool,
) -> (ExecutionStatus, Option<String>) {
    let step_message = |s: &StepOutcome| {
        format!(
            "step `{}`: {}",
            s.name,
            s.error.as_deref().unwrap_or("failed")
        )
    };
    let failure = steps.iter().find(|s| s.is_failure()).map(step_message);
    // Step breaches already show on their steps; only total_duration has none.
    let run_breach = |soft: bool| {
        breaches
            .iter()
            .find(|b| b.soft == soft && b.metric == "total_duration")
            .map(thresholds::describe)
    };
    if timed_out {
        return (ExecutionStatus::TimedOut, failure);
    }
    if let Some(message) = failure.or_else(|| run_breach(false)) {
        return (ExecutionStatus::Failed, Some(message));
    }
    let warning = steps
        .iter()
        .find(|s| s.status == StepStatus::Warning)
        .map(step_message)
        .or_else(|| run_breach(true));
    match warning {
        Some(message) => (ExecutionStatus::Warning, Some(message)),
        None => (ExecutionStatus::Passed, None),
    }
}

fn order_of(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_future_can_be_spawned() {
        fn is_send<T: Send>(_: &T) {}
        let config = crate::config::Config::parse(
            "workflows:\n  - name: w\n    steps: [{name: s, http: {url: \"http://127.0.0.1:1/\"}}]\n",
            std::path::Path::new("test.yaml"),
        )
        .unwrap();
        let ctx = RunContext::new("r", vec![]);
        let env = &config.environments["production"];
        is_send(&run_workflow(&config.workflows[0], env, &ctx, &NoObserver));
    }
}
