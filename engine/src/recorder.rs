//! Turns a run's outcome into the rows the store writes: the execution, its step results,
//! metrics and health checks. Pure conversion; the executor does the writing.

use serde_json::json;
use wfmon_model::{
    ExecutionStatus, SystemHealthCheck, Timestamp, TriggeredBy, WorkflowExecution, WorkflowMetric,
    WorkflowStepResult, json as to_json, new_id,
};
use wfmon_store::ExecutionRecord;

use crate::runner::{RunOutcome, StepOutcome};
use crate::workflow::Workflow;

/// Who a run is: the fields of its execution row that do not come from the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIdentity {
    /// The execution's run id.
    pub run_id: String,
    /// Workflow name.
    pub workflow: String,
    /// Environment name.
    pub environment: String,
    /// What started it.
    pub triggered_by: TriggeredBy,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// For a retry: the first attempt's run id.
    pub first_run_id: Option<String>,
    /// The schedule that made it due, if any.
    pub schedule_id: Option<String>,
    /// The instance running it.
    pub instance_id: String,
    /// For a scheduled run: the due time it was started for (`dueAt` in its metadata).
    pub due_at: Option<Timestamp>,
}

impl RunIdentity {
    /// The execution row written when the run starts (RUNNING), so a crash leaves a trace.
    pub fn started_row(&self, started_at: Timestamp) -> WorkflowExecution {
        WorkflowExecution {
            id: new_id("exe"),
            run_id: self.run_id.clone(),
            workflow_name: self.workflow.clone(),
            status: ExecutionStatus::Running,
            started_at,
            completed_at: None,
            duration_ms: None,
            tests_passed: 0,
            tests_failed: 0,
            tests_total: 0,
            error_message: None,
            error_stack: None,
            triggered_by: self.triggered_by,
            environment: self.environment.clone(),
            metadata: self.due_metadata(),
            report_id: None,
            attempt: self.attempt as i32,
            first_run_id: self.first_run_id.clone(),
            schedule_id: self.schedule_id.clone(),
            instance_id: Some(self.instance_id.clone()),
            created_at: started_at,
            updated_at: started_at,
        }
    }

    fn due_metadata(&self) -> Option<wfmon_model::Json> {
        self.due_at
            .map(|due| to_json(json!({ "dueAt": due.to_string() })))
    }

    /// The row of a due run that was not started, with why: a SKIPPED execution that took
    /// no time.
    pub fn skipped_row(&self, reason: String) -> WorkflowExecution {
        let now = Timestamp::now();
        let at = self.due_at.unwrap_or(now);
        WorkflowExecution {
            status: ExecutionStatus::Skipped,
            completed_at: Some(at),
            duration_ms: Some(0),
            error_message: Some(reason),
            updated_at: now,
            ..self.started_row(at)
        }
    }

    /// The attempt after this one, linked to the first.
    pub fn retry(&self) -> RunIdentity {
        RunIdentity {
            run_id: new_id("run"),
            attempt: self.attempt + 1,
            first_run_id: Some(
                self.first_run_id
                    .clone()
                    .unwrap_or_else(|| self.run_id.clone()),
            ),
            triggered_by: TriggeredBy::Retry,
            ..self.clone()
        }
    }
}

fn ms(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Where a finished attempt stands in its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFate {
    /// The run's last attempt, and not a pass on retry.
    Final,
    /// The last attempt, passing after failed ones: the run is flaky (`metadata.flaky`).
    PassedOnRetry,
    /// A failed attempt that another follows (`metadata.retried`): it is history, not the
    /// run's verdict, so alert rules wait for the last attempt.
    RetryFollows,
}

/// The rows of a finished attempt.
pub fn record_of(
    identity: &RunIdentity,
    workflow: &Workflow,
    outcome: &RunOutcome,
    fate: AttemptFate,
) -> ExecutionRecord {
    let now = Timestamp::now();
    let mut execution = identity.started_row(outcome.started_at);
    execution.status = outcome.status;
    execution.completed_at = Some(
        outcome
            .started_at
            .plus(chrono::TimeDelta::milliseconds(outcome.duration_ms as i64)),
    );
    execution.duration_ms = Some(ms(outcome.duration_ms));
    execution.tests_passed = outcome.tests_passed as i32;
    execution.tests_failed = outcome.tests_failed as i32;
    execution.tests_total = outcome.tests_total as i32;
    execution.error_message = outcome.error.clone();
    let mut metadata = serde_json::Map::new();
    if let Some(due) = identity.due_at {
        metadata.insert("dueAt".into(), json!(due.to_string()));
    }
    match fate {
        AttemptFate::Final => {}
        AttemptFate::PassedOnRetry => {
            metadata.insert("flaky".into(), json!(true));
        }
        AttemptFate::RetryFollows => {
            metadata.insert("retried".into(), json!(true));
        }
    }
    if !outcome.breached_thresholds.is_empty() {
        metadata.insert(
            "breachedThresholds".into(),
            json!(outcome.breached_thresholds),
        );
    }
    if !workflow.tags.is_empty() {
        metadata.insert("tags".into(), json!(workflow.tags));
    }
    execution.metadata =
        (!metadata.is_empty()).then(|| to_json(serde_json::Value::Object(metadata)));
    execution.updated_at = now;

    let steps = outcome
        .steps
        .iter()
        .map(|s| step_row(&identity.run_id, s, now))
        .collect();
    let threshold = |name: &str| {
        workflow
            .thresholds
            .iter()
            .find(|t| t.metric == name)
            .map(|t| t.max)
    };
    let metric = |name: &str,
                  qualified: &str,
                  value: f64,
                  unit: Option<&str>,
                  step: Option<&str>,
                  at: Timestamp| {
        let max = threshold(qualified);
        WorkflowMetric {
            id: new_id("met"),
            workflow_id: identity.workflow.clone(),
            metric_name: name.to_owned(),
            metric_value: value,
            metric_unit: unit.map(str::to_owned),
            threshold_value: max,
            is_within_threshold: max.is_none_or(|m| value <= m),
            recorded_at: at,
            tags: Some(to_json(
                json!({"environment": identity.environment, "step": step}),
            )),
            metadata: None,
            execution_id: Some(identity.run_id.clone()),
            created_at: now,
        }
    };
    let mut metrics = vec![metric(
        "total_duration",
        "total_duration",
        outcome.duration_ms as f64,
        Some("ms"),
        None,
        outcome.started_at,
    )];
    for step in &outcome.steps {
        for (name, value, unit) in &step.metrics {
            let qualified = format!("{}.{name}", step.name);
            let key = if threshold(&qualified).is_some() {
                qualified
            } else {
                name.clone()
            };
            metrics.push(metric(
                name,
                &key,
                *value,
                unit.as_deref(),
                Some(&step.name),
                step.started_at,
            ));
        }
    }
    let health_checks = outcome
        .steps
        .iter()
        .filter_map(|s| s.health.as_ref().map(|h| (s, h)))
        .map(|(s, h)| SystemHealthCheck {
            id: new_id("hc"),
            check_id: new_id("chk"),
            check_name: s.name.clone(),
            status: h.status,
            response_time_ms: ms(h.response_time_ms),
            details: None,
            checked_at: s.started_at,
            endpoint: Some(h.endpoint.clone()),
            expected_status: Some(i32::from(h.expected_status)),
            actual_status: h.actual_status.map(i32::from),
            error_message: h.error.clone(),
            metadata: Some(to_json(
                json!({"workflow": identity.workflow, "environment": identity.environment}),
            )),
            execution_id: Some(identity.run_id.clone()),
            created_at: now,
        })
        .collect();
    ExecutionRecord {
        execution,
        steps,
        metrics,
        health_checks,
    }
}

fn step_row(run_id: &str, s: &StepOutcome, now: Timestamp) -> WorkflowStepResult {
    let mut checks: Vec<serde_json::Value> = s
        .assertions
        .iter()
        .map(|a| json!({"expression": a.expression, "passed": a.passed, "expected": a.expected, "actual": a.actual, "error": a.error}))
        .collect();
    checks.extend(s.tests.iter().map(|t| {
        json!({"test": t.name, "classname": t.classname, "passed": t.passed, "skipped": t.skipped, "message": t.message})
    }));
    let failed_assertion = s
        .assertions
        .iter()
        .find(|a| !a.passed)
        .map(|a| a.expression.clone())
        .or_else(|| {
            s.tests
                .iter()
                .find(|t| !t.passed && !t.skipped)
                .map(|t| t.name.clone())
        });
    WorkflowStepResult {
        id: new_id("stp"),
        step_result_id: new_id("step"),
        execution_id: run_id.to_owned(),
        step_name: s.name.clone(),
        step_order: s.order as i32,
        step_kind: if s.is_cleanup {
            format!("{}:cleanup", s.kind)
        } else {
            s.kind.to_owned()
        },
        status: s.status,
        started_at: s.started_at,
        duration_ms: ms(s.duration_ms),
        assertions_passed: s.tests_passed() as i32,
        assertions_failed: s.tests_failed() as i32,
        failed_assertion,
        assertions: (!checks.is_empty()).then(|| to_json(serde_json::Value::Array(checks))),
        captured: (!s.captured.is_empty()).then(|| to_json(json!(s.captured))),
        error_message: s.error.clone(),
        created_at: now,
    }
}
