//! The executor end to end: a real HTTP target on 127.0.0.1, a real SQLite store. Each run
//! leaves its RUNNING row, then its execution, step results, metrics and health checks;
//! retries are separate linked attempts and a pass after failures is marked flaky.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::http::StatusCode;
use axum::routing::get;
use wfmon_engine::config::Config;
use wfmon_engine::executor::{Recording, execute};
use wfmon_engine::recorder::RunIdentity;
use wfmon_engine::runner::NoObserver;
use wfmon_model::{
    ExecutionStatus, HealthStatus, StepStatus, TriggeredBy, WorkflowExecution, new_id,
};
use wfmon_store::{DatabaseUrl, ExecutionFilter, OpenMode, Store};

/// Serves `/flaky`, which fails (500) for its first `failures` calls, and `/health`.
async fn target(failures: u32) -> String {
    let calls = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new()
        .route(
            "/flaky",
            get(move || {
                let calls = calls.clone();
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) < failures {
                        (StatusCode::INTERNAL_SERVER_ERROR, "down")
                    } else {
                        (StatusCode::OK, "{\"ok\": true}")
                    }
                }
            }),
        )
        .route("/health", get(|| async { "{\"status\": \"ok\"}" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn config(base: &str, attempts: u32) -> Config {
    let yaml = format!(
        r#"
environments:
  local: {{variables: {{base_url: "{base}"}}}}
workflows:
  - name: flaky-journey
    retries: {{attempts: {attempts}, backoff: fixed, initial: 10ms}}
    thresholds:
      - {{metric: total_duration, max: 60000}}
    steps:
      - name: call
        http: {{url: "{{{{ base_url }}}}/flaky"}}
        assert: ["status == 200", "body.ok == true"]
      - name: probe
        health: {{url: "{{{{ base_url }}}}/health"}}
"#
    );
    Config::parse(&yaml, Path::new("test.yaml")).unwrap()
}

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display())).unwrap();
    (Store::open(&url, OpenMode::Create).await.unwrap(), dir)
}

fn identity() -> RunIdentity {
    RunIdentity {
        run_id: new_id("run"),
        workflow: "flaky-journey".into(),
        environment: "local".into(),
        triggered_by: TriggeredBy::Manual,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: "test".into(),
        due_at: None,
    }
}

#[tokio::test]
async fn a_pass_after_failures_keeps_every_attempt_linked_and_marks_it_flaky() {
    let base = target(2).await;
    let config = config(&base, 3);
    let (store, _dir) = store().await;
    let workflow = config.workflow("flaky-journey").unwrap();
    let first = identity();
    let (attempts, errors) = execute(
        &config,
        workflow,
        &config.environments["local"],
        first.clone(),
        Recording::Direct(&store),
        &NoObserver,
        None,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.outcome.status)
            .collect::<Vec<_>>(),
        vec![
            ExecutionStatus::Failed,
            ExecutionStatus::Failed,
            ExecutionStatus::Passed
        ]
    );

    let rows = store
        .list_executions(&ExecutionFilter {
            workflow: Some("flaky-journey".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "every attempt is kept");
    let by_attempt = |n: i32| rows.iter().find(|r| r.attempt == n).unwrap().clone();
    let (a1, a2, a3): (WorkflowExecution, WorkflowExecution, WorkflowExecution) =
        (by_attempt(1), by_attempt(2), by_attempt(3));
    assert_eq!(a1.run_id, first.run_id);
    assert_eq!(a1.first_run_id, None);
    assert_eq!(a2.first_run_id.as_deref(), Some(first.run_id.as_str()));
    assert_eq!(a3.first_run_id.as_deref(), Some(first.run_id.as_str()));
    assert_eq!(
        (a1.triggered_by, a3.triggered_by),
        (TriggeredBy::Manual, TriggeredBy::Retry)
    );
    assert_eq!(a1.status, ExecutionStatus::Failed);
    assert!(
        a1.error_message
            .as_deref()
            .unwrap()
            .contains("status == 200"),
        "{:?}",
        a1.error_message
    );
    assert_eq!(a3.status, ExecutionStatus::Passed);
    assert_eq!(a3.metadata.as_ref().unwrap().0["flaky"], true);
    assert!(
        a1.metadata
            .as_ref()
            .is_none_or(|m| m.0.get("flaky").is_none())
    );
    // The failed attempts say that another follows; the last one does not.
    assert_eq!(a1.metadata.as_ref().unwrap().0["retried"], true);
    assert_eq!(a2.metadata.as_ref().unwrap().0["retried"], true);
    assert!(a3.metadata.as_ref().unwrap().0.get("retried").is_none());
    assert_eq!(
        (a3.tests_passed, a3.tests_failed, a3.tests_total),
        (2, 0, 2)
    );
    assert!(a3.completed_at.unwrap() >= a3.started_at);

    let detail = store.execution_detail(&a1.run_id).await.unwrap().unwrap();
    assert_eq!(detail.steps.len(), 2);
    assert_eq!(detail.steps[0].status, StepStatus::Failed);
    assert_eq!(
        detail.steps[0].failed_assertion.as_deref(),
        Some("status == 200")
    );
    let assertions = &detail.steps[0].assertions.as_ref().unwrap().0;
    assert_eq!(assertions[0]["expected"], "200");
    assert_eq!(assertions[0]["actual"], "500");
    assert_eq!(detail.steps[1].status, StepStatus::Skipped);
    assert!(detail.health_checks.is_empty(), "the probe was skipped");

    let detail = store.execution_detail(&a3.run_id).await.unwrap().unwrap();
    assert_eq!(detail.health_checks.len(), 1);
    assert_eq!(detail.health_checks[0].status, HealthStatus::Healthy);
    assert_eq!(detail.health_checks[0].actual_status, Some(200));
    let total = detail
        .metrics
        .iter()
        .find(|m| m.metric_name == "total_duration")
        .unwrap();
    assert_eq!(total.threshold_value, Some(60000.0));
    assert!(total.is_within_threshold);
    assert!(
        detail
            .metrics
            .iter()
            .any(|m| m.metric_name == "response_time")
    );
}

#[tokio::test]
async fn without_retries_a_failure_is_one_attempt_and_nothing_is_left_running() {
    let base = target(u32::MAX).await;
    let config = config(&base, 1);
    let (store, _dir) = store().await;
    let workflow = config.workflow("flaky-journey").unwrap();
    let (attempts, errors) = execute(
        &config,
        workflow,
        &config.environments["local"],
        identity(),
        Recording::Direct(&store),
        &NoObserver,
        None,
    )
    .await;
    assert!(errors.is_empty());
    assert_eq!(attempts.len(), 1);
    let running = store
        .list_executions(&ExecutionFilter {
            status: Some(ExecutionStatus::Running),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(running.is_empty(), "the RUNNING row was completed");
    assert_eq!(store.count::<WorkflowExecution>().await.unwrap(), 1);
}

#[tokio::test]
async fn a_store_that_fails_is_reported_and_the_run_still_happens() {
    let base = target(0).await;
    let config = config(&base, 1);
    let (store, _dir) = store().await;
    store.close().await;
    let workflow = config.workflow("flaky-journey").unwrap();
    let (attempts, errors) = execute(
        &config,
        workflow,
        &config.environments["local"],
        identity(),
        Recording::Direct(&store),
        &NoObserver,
        None,
    )
    .await;
    assert_eq!(attempts[0].outcome.status, ExecutionStatus::Passed);
    assert_eq!(
        errors.len(),
        2,
        "the start and the completion could not be written: {errors:?}"
    );
    assert!(
        errors[0].to_string().contains("could not be recorded"),
        "{}",
        errors[0]
    );
}
