//! The benchmark's rows, generated before any timing: complete executions shaped like the
//! recorder's (3 step results, 3 metrics, 1 health check each), with time-ordered ids.

use chrono::TimeDelta;
use wfmon_model::{
    ExecutionStatus, HealthStatus, StepStatus, SystemHealthCheck, Timestamp, TriggeredBy,
    WorkflowExecution, WorkflowMetric, WorkflowStepResult, json, new_id,
};
use wfmon_store::ExecutionRecord;

/// Step results per execution.
pub const STEPS: usize = 3;
/// Metrics per execution.
pub const METRICS: usize = 3;
/// Health checks per execution.
pub const HEALTH_CHECKS: usize = 1;
/// Rows written per execution: the execution itself and everything recorded with it.
pub const ROWS_PER_EXECUTION: usize = 1 + STEPS + METRICS + HEALTH_CHECKS;

const WORKFLOWS: usize = 25;
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "dev"];
const STEP_KINDS: [&str; STEPS] = ["http", "http", "command"];
const METRIC_NAMES: [&str; METRICS] = ["response_time_ms", "total_duration_ms", "ttfb_ms"];

/// `count` finished executions, spread over the last `count` seconds, oldest first.
pub fn executions(count: usize) -> Vec<ExecutionRecord> {
    let now = Timestamp::now();
    (0..count)
        .map(|i| {
            let started_at = now.minus(TimeDelta::seconds((count - i) as i64));
            execution_record(i, started_at)
        })
        .collect()
}

fn execution_record(i: usize, started_at: Timestamp) -> ExecutionRecord {
    // One run in 20 fails on its last step; everything else passes.
    let failed = i % 20 == 7;
    let duration_ms = 120 + (i % 400) as i32;
    let now = Timestamp::now();
    let execution = WorkflowExecution {
        id: new_id("exe"),
        run_id: new_id("run"),
        workflow_name: format!("workflow-{:02}", i % WORKFLOWS),
        status: if failed {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        },
        started_at,
        completed_at: Some(started_at.plus(TimeDelta::milliseconds(duration_ms.into()))),
        duration_ms: Some(duration_ms),
        tests_passed: if failed { 2 } else { 3 },
        tests_failed: i32::from(failed),
        tests_total: 3,
        error_message: failed.then(|| "expected status 200, got 500".to_owned()),
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: ENVIRONMENTS[i % ENVIRONMENTS.len()].to_owned(),
        metadata: Some(json(serde_json::json!({"bench": true}))),
        report_id: None,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: Some("bench".to_owned()),
        created_at: now,
        updated_at: now,
    };
    let steps = (0..STEPS)
        .map(|order| step(&execution, order, failed && order == STEPS - 1))
        .collect();
    let metrics = METRIC_NAMES
        .iter()
        .enumerate()
        .map(|(k, name)| metric(&execution, name, (duration_ms as f64) / (k as f64 + 1.0)))
        .collect();
    let health_checks = vec![health_check(&execution, i)];
    ExecutionRecord {
        execution,
        steps,
        metrics,
        health_checks,
    }
}

fn step(execution: &WorkflowExecution, order: usize, failed: bool) -> WorkflowStepResult {
    let expression = "status == 200";
    WorkflowStepResult {
        id: new_id("stp"),
        step_result_id: new_id("step"),
        execution_id: execution.run_id.clone(),
        step_name: format!("step-{order}"),
        step_order: order as i32,
        step_kind: STEP_KINDS[order].to_owned(),
        status: if failed {
            StepStatus::Failed
        } else {
            StepStatus::Passed
        },
        started_at: execution.started_at,
        duration_ms: 40 + order as i32,
        assertions_passed: i32::from(!failed),
        assertions_failed: i32::from(failed),
        failed_assertion: failed.then(|| expression.to_owned()),
        assertions: Some(json(serde_json::json!([{
            "expression": expression,
            "passed": !failed,
            "expected": "200",
            "actual": if failed { "500" } else { "200" },
        }]))),
        captured: Some(json(serde_json::json!(["token"]))),
        error_message: failed.then(|| "expected status 200, got 500".to_owned()),
        created_at: execution.created_at,
    }
}

fn metric(execution: &WorkflowExecution, name: &str, value: f64) -> WorkflowMetric {
    let threshold = 400.0;
    WorkflowMetric {
        id: new_id("met"),
        workflow_id: execution.workflow_name.clone(),
        metric_name: name.to_owned(),
        metric_value: value,
        metric_unit: Some("ms".to_owned()),
        threshold_value: Some(threshold),
        is_within_threshold: value <= threshold,
        recorded_at: execution.started_at,
        tags: Some(json(
            serde_json::json!({"environment": execution.environment}),
        )),
        metadata: None,
        execution_id: Some(execution.run_id.clone()),
        created_at: execution.created_at,
    }
}

fn health_check(execution: &WorkflowExecution, i: usize) -> SystemHealthCheck {
    let degraded = i % 50 == 13;
    SystemHealthCheck {
        id: new_id("hc"),
        check_id: new_id("chk"),
        check_name: "api-health".to_owned(),
        status: if degraded {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        },
        response_time_ms: 12 + (i % 30) as i32,
        details: Some(json(serde_json::json!({"database": "up"}))),
        checked_at: execution.started_at,
        endpoint: Some("http://127.0.0.1:3000/api/health".to_owned()),
        expected_status: Some(200),
        actual_status: Some(200),
        error_message: None,
        metadata: None,
        execution_id: Some(execution.run_id.clone()),
        created_at: execution.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_execution_has_its_rows_and_unique_ids() {
        let records = executions(50);
        assert_eq!(records.len(), 50);
        let mut ids = std::collections::HashSet::new();
        for record in &records {
            assert_eq!(record.steps.len(), STEPS);
            assert_eq!(record.metrics.len(), METRICS);
            assert_eq!(record.health_checks.len(), HEALTH_CHECKS);
            assert!(ids.insert(record.execution.run_id.clone()));
            for step in &record.steps {
                assert_eq!(step.execution_id, record.execution.run_id);
                assert!(ids.insert(step.step_result_id.clone()));
            }
        }
        assert!(
            records
                .windows(2)
                .all(|w| w[0].execution.started_at < w[1].execution.started_at)
        );
    }
}
