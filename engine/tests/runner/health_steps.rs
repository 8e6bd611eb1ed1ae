//! Health steps: HEALTHY, DEGRADED (a warning) and UNHEALTHY (a failure), with assertions.

use wfmon_model::{ExecutionStatus, HealthStatus, StepStatus};

use crate::app::{self, step};

#[tokio::test]
async fn healthy_degraded_and_unhealthy_endpoints() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: healthy
        health: {url: "{{ base_url }}/api/health", degraded_after: 5s}
        assert: ["body.status == 'ok'", "status == 200"]
      - name: degraded
        health: {url: "{{ base_url }}/api/slow?ms=200", degraded_after: 50ms}
      - name: unhealthy
        health: {url: "{{ base_url }}/api/health/down"}
        assert: ["text == 'down'"]
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        (
            outcome.tests_passed,
            outcome.tests_failed,
            outcome.tests_total
        ),
        (3, 0, 3)
    );

    let healthy = step(&outcome, "healthy");
    assert_eq!(
        (healthy.kind, healthy.status),
        ("health", StepStatus::Passed)
    );
    let h = healthy.health.as_ref().unwrap();
    assert_eq!(h.status, HealthStatus::Healthy);
    assert_eq!(h.endpoint, format!("{}/api/health", app.base));
    assert_eq!((h.expected_status, h.actual_status), (200, Some(200)));
    assert_eq!(h.error, None);
    assert_eq!(healthy.metrics[0].0, "response_time");

    let degraded = step(&outcome, "degraded");
    assert_eq!(degraded.status, StepStatus::Warning);
    let h = degraded.health.as_ref().unwrap();
    assert_eq!(h.status, HealthStatus::Degraded);
    assert!(h.response_time_ms >= 200);
    assert_eq!(
        h.error,
        Some(format!(
            "answered in {} ms, slower than degraded_after 50ms",
            h.response_time_ms
        ))
    );

    let unhealthy = step(&outcome, "unhealthy");
    assert_eq!(unhealthy.status, StepStatus::Failed);
    let h = unhealthy.health.as_ref().unwrap();
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!(h.actual_status, Some(503));
    assert_eq!(h.error.as_deref(), Some("expected status 200, got 503"));
    assert_eq!(
        outcome.error,
        Some(format!(
            "step `unhealthy`: GET {}/api/health/down: expected status 200, got 503",
            app.base
        ))
    );
}

#[tokio::test]
async fn a_degraded_endpoint_makes_the_run_a_warning() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: degraded
        health: {url: "{{ base_url }}/api/slow?ms=150", degraded_after: 20ms}
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Warning);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .starts_with("step `degraded`: GET ")
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unhealthy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = app::config(
        &base,
        r#"
  - name: w
    steps:
      - name: probe
        health: {url: "{{ base_url }}/api/health"}
        assert: ["status == 200"]
"#,
    );
    let outcome = app::run(&config).await;
    let probe = step(&outcome, "probe");
    assert_eq!(probe.status, StepStatus::Failed);
    let h = probe.health.as_ref().unwrap();
    assert_eq!((h.status, h.actual_status), (HealthStatus::Unhealthy, None));
    let error = h.error.as_deref().unwrap();
    assert!(
        error.starts_with(&format!("GET {base}/api/health: cannot connect")),
        "{error}"
    );
    assert_eq!(probe.error.as_deref(), Some(error));
    assert_eq!((outcome.tests_failed, outcome.tests_total), (1, 1));
}

#[tokio::test]
async fn a_probe_that_does_not_answer_in_time_times_out() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: probe
        health: {url: "{{ base_url }}/api/slow?ms=3000"}
        timeout: 200ms
"#,
    );
    let outcome = app::run(&config).await;
    let probe = step(&outcome, "probe");
    assert_eq!(probe.status, StepStatus::TimedOut);
    let h = probe.health.as_ref().unwrap();
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!(
        h.error,
        Some(format!(
            "GET {}/api/slow?ms=3000: no answer within 200ms (step timeout)",
            app.base
        ))
    );
}
