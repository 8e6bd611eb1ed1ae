//! HTTP steps: a login flow with cookie and captured token, failures that skip later steps,
//! cleanup, timeouts and thresholds.

use std::time::Instant;

use wfmon_engine::runner::RunContext;
use wfmon_model::{ExecutionStatus, StepStatus};

use crate::app::{self, StepLog, TOKEN, step};

#[tokio::test]
async fn a_login_flow_passes_with_its_cookie_and_captured_token() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: user-login
    variables: {email: farmer@example.com}
    steps:
      - name: login
        http:
          method: POST
          url: "{{ base_url }}/api/login"
          json: {email: "{{ email }}", password: pw}
        assert:
          - status == 200
          - body.user.role == "farmer" && body.user.email == vars.email
          - headers["content-type"] == "application/json"
          - duration_ms >= 0
        capture:
          token: $.token
          session: "header:set-cookie"
      - name: me
        http:
          url: "{{ base_url }}/api/me"
          headers: {Authorization: "Bearer {{ token }}"}
        assert: ["status == 200 && body.farms == 2"]
      - name: create farm
        http:
          method: POST
          url: "{{ base_url }}/api/farms"
          form: {name: "farm of {{ workflow }} in {{ environment }}", run: "{{ run_id }}"}
        assert: ["status == 201"]
        capture: {farm_id: "regex:\"id\":\"([^\"]+)\""}
    cleanup:
      - name: delete farm
        http: {method: DELETE, url: "{{ base_url }}/api/farms/{{ farm_id }}"}
        assert: ["status == 204"]
"#,
    );
    let step_log = StepLog::default();
    let ctx = RunContext::new("run-7", config.secrets.clone());
    let outcome = app::run_with(&config, &ctx, &step_log).await;
    assert_eq!(outcome.status, ExecutionStatus::Passed, "{outcome:#?}");
    assert_eq!(outcome.error, None);
    assert_eq!(
        (
            outcome.tests_passed,
            outcome.tests_failed,
            outcome.tests_total
        ),
        (7, 0, 7)
    );
    let login = step(&outcome, "login");
    assert_eq!(login.captured, vec!["session", "token"]);
    assert_eq!(
        (login.order, login.kind, login.is_cleanup),
        (0, "http", false)
    );
    assert_eq!(login.http_status, Some(200));
    let response_time = login.response_time_ms.unwrap();
    assert_eq!(
        login.metrics,
        vec![(
            "response_time".to_owned(),
            response_time as f64,
            Some("ms".to_owned())
        )]
    );
    assert_eq!(step(&outcome, "create farm").captured, vec!["farm_id"]);
    let cleanup = step(&outcome, "delete farm");
    assert_eq!((cleanup.order, cleanup.is_cleanup), (3, true));
    assert_eq!(cleanup.status, StepStatus::Passed);
    assert_eq!(
        *app.log.lock().unwrap(),
        vec![
            "POST /api/farms name=farm+of+user-login+in+test&run=run-7",
            "DELETE /api/farms/farm-42",
        ]
    );
    assert_eq!(
        *step_log.0.lock().unwrap(),
        vec![
            "start 0 login",
            "finish 0 login PASSED",
            "start 1 me",
            "finish 1 me PASSED",
            "start 2 create farm",
            "finish 2 create farm PASSED",
            "start 3 delete farm",
            "finish 3 delete farm PASSED",
        ]
    );
    // Captured values are never part of the outcome.
    let json = serde_json::to_string(&outcome).unwrap();
    assert!(!json.contains(TOKEN) && !json.contains("s-98765"), "{json}");
}

#[tokio::test]
async fn a_failed_assertion_skips_the_rest_and_cleanup_still_runs() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: create
        http: {method: POST, url: "{{ base_url }}/api/farms"}
        capture: {farm_id: $.id}
      - name: boom
        http: {url: "{{ base_url }}/api/boom"}
        assert: ["status == 200", "body.error == 'boom'", "status < 300 && body.error == 'none'"]
      - name: never
        http: {url: "{{ base_url }}/api/health"}
        assert: ["status == 200"]
    cleanup:
      - name: delete
        http: {method: DELETE, url: "{{ base_url }}/api/farms/{{ farm_id }}"}
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `boom`: assertion `status == 200` failed (expected 200, actual 500)")
    );
    let boom = step(&outcome, "boom");
    assert_eq!(boom.status, StepStatus::Failed);
    let checks: Vec<_> = boom
        .assertions
        .iter()
        .map(|a| {
            (
                a.passed,
                a.expected.as_deref(),
                a.actual.as_deref(),
                a.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        vec![
            (false, Some("200"), Some("500"), None),
            (true, None, None, None),
            (
                false,
                Some("< 300"),
                Some("500"),
                Some("`status < 300` is false")
            ),
        ]
    );
    let never = step(&outcome, "never");
    assert_eq!(never.status, StepStatus::Skipped);
    assert_eq!(never.error.as_deref(), Some("skipped: step `boom` failed"));
    assert!(never.assertions.is_empty());
    assert_eq!(step(&outcome, "delete").status, StepStatus::Passed);
    assert_eq!(
        app.log.lock().unwrap().last().map(String::as_str),
        Some("DELETE /api/farms/farm-42")
    );
    // Assertions of skipped steps are not tests that ran.
    assert_eq!(
        (
            outcome.tests_passed,
            outcome.tests_failed,
            outcome.tests_total
        ),
        (1, 2, 3)
    );
}

#[tokio::test]
async fn continue_on_failure_runs_the_next_steps_but_the_run_still_fails() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: bad login
        http: {method: POST, url: "{{ base_url }}/api/login", json: {password: wrong}}
        assert: ["status == 200"]
        continue_on_failure: true
      - name: health
        http: {url: "{{ base_url }}/api/health"}
        assert: ["body.status == 'ok'"]
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(step(&outcome, "bad login").status, StepStatus::Failed);
    assert_eq!(step(&outcome, "health").status, StepStatus::Passed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `bad login`: assertion `status == 200` failed (expected 200, actual 401)")
    );
}

#[tokio::test]
async fn a_step_timeout_cuts_the_request() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: slow
        http: {url: "{{ base_url }}/api/slow", query: {ms: "3000"}}
        timeout: 300ms
        assert: ["status == 200"]
"#,
    );
    let started = Instant::now();
    let outcome = app::run(&config).await;
    assert!(
        started.elapsed().as_millis() < 2000,
        "{:?}",
        started.elapsed()
    );
    let slow = step(&outcome, "slow");
    assert_eq!(slow.status, StepStatus::TimedOut);
    assert_eq!(
        slow.error.as_deref(),
        Some(
            format!(
                "GET {}/api/slow?ms=3000: no response within 300ms (step timeout)",
                app.base
            )
            .as_str()
        )
    );
    // A step's own timeout fails the run; only the workflow timeout makes it TIMED_OUT.
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        (
            outcome.tests_passed,
            outcome.tests_failed,
            outcome.tests_total
        ),
        (0, 1, 1)
    );
    assert_eq!(
        slow.assertions[0].error.as_deref(),
        Some("not evaluated: the step did not get an answer")
    );
}

#[tokio::test]
async fn the_workflow_timeout_cancels_the_step_and_cleanup_still_runs() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    timeout: 1s
    steps:
      - name: create
        http: {method: POST, url: "{{ base_url }}/api/farms"}
        capture: {farm_id: $.id}
      - name: slow
        http: {url: "{{ base_url }}/api/slow", query: {ms: "10000"}}
        timeout: 20s
      - name: after
        http: {url: "{{ base_url }}/api/health"}
    cleanup:
      - name: delete
        http: {method: DELETE, url: "{{ base_url }}/api/farms/{{ farm_id }}"}
        timeout: 2s
"#,
    );
    let started = Instant::now();
    let outcome = app::run(&config).await;
    let elapsed = started.elapsed().as_millis();
    assert!((1000..5000).contains(&elapsed), "{elapsed} ms");
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    let slow = step(&outcome, "slow");
    assert_eq!(slow.status, StepStatus::TimedOut);
    assert_eq!(
        slow.error.as_deref(),
        Some("the workflow timeout of 1s expired during this step")
    );
    assert_eq!(
        outcome.error.as_deref(),
        Some("step `slow`: the workflow timeout of 1s expired during this step")
    );
    let after = step(&outcome, "after");
    assert_eq!(after.status, StepStatus::Skipped);
    assert_eq!(
        after.error.as_deref(),
        Some("skipped: the workflow timeout of 1s expired")
    );
    assert_eq!(step(&outcome, "delete").status, StepStatus::Passed);
    assert_eq!(
        app.log.lock().unwrap().last().map(String::as_str),
        Some("DELETE /api/farms/farm-42")
    );
}

#[tokio::test]
async fn thresholds_make_a_run_warning_or_failed() {
    let app = app::start().await;
    let workflow = |soft: bool| {
        format!(
            r#"
  - name: w
    thresholds:
      - {{metric: slow.response_time, max: 50, soft: {soft}}}
      - {{metric: total_duration, max: 60000}}
    steps:
      - name: slow
        http: {{url: "{{{{ base_url }}}}/api/slow", query: {{ms: "150"}}}}
        assert: ["status == 200"]
"#
        )
    };
    let outcome = app::run(&app::config(&app.base, &workflow(true))).await;
    assert_eq!(outcome.status, ExecutionStatus::Warning, "{outcome:#?}");
    let breach = &outcome.breached_thresholds[0];
    assert_eq!(outcome.breached_thresholds.len(), 1);
    assert_eq!(
        (breach.metric.as_str(), breach.max, breach.soft),
        ("slow.response_time", 50.0, true)
    );
    assert!(breach.value >= 150.0);
    let slow = step(&outcome, "slow");
    assert_eq!(slow.status, StepStatus::Warning);
    let message = format!(
        "slow.response_time is {}, over its soft threshold of 50",
        breach.value
    );
    assert_eq!(slow.error.as_deref(), Some(message.as_str()));
    assert_eq!(
        outcome.error.as_deref(),
        Some(format!("step `slow`: {message}").as_str())
    );
    assert_eq!((outcome.tests_passed, outcome.tests_failed), (1, 0));

    let outcome = app::run(&app::config(&app.base, &workflow(false))).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(step(&outcome, "slow").status, StepStatus::Failed);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("over its hard threshold of 50")
    );
}
