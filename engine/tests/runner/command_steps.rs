//! Command steps: a script that writes a JUnit report, a program that hangs past its
//! timeout (killed with its children), one that floods its output, and captures from output.

use std::path::Path;
use std::time::{Duration, Instant};

use wfmon_engine::runner::{NoObserver, RunContext};
use wfmon_model::{ExecutionStatus, StepStatus};

use crate::app::{self, step};

const JUNIT_SCRIPT: &str = r#"cat > results.xml <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="checkout" tests="3" failures="1">
    <testcase name="adds to cart" classname="cart.spec.ts" time="0.5"/>
    <testcase name="shows total" classname="cart.spec.ts" time="0.25"/>
    <testcase name="pays" classname="pay.spec.ts" time="1.5">
      <failure message="expected paid, got pending">at pay.spec.ts:12</failure>
    </testcase>
  </testsuite>
</testsuites>
EOF
echo "ran 3 tests for $TARGET"
exit 1
"#;

fn workflow(dir: &Path, steps: &str) -> String {
    format!(
        "  - name: w\n    steps:\n{}",
        steps.replace("DIR", &dir.display().to_string())
    )
}

#[tokio::test]
async fn junit_test_cases_become_tests_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junit.sh"), JUNIT_SCRIPT).unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &workflow(
            dir.path(),
            r#"
      - name: e2e
        command:
          run: [sh, -c, "sh junit.sh"]
          workdir: DIR
          junit: results.xml
          env: {TARGET: "{{ base_url }}"}
        assert: ["stdout.contains('ran 3 tests for http://127.0.0.1:1')", "exit_code == 1"]
"#,
        ),
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let e2e = step(&outcome, "e2e");
    assert_eq!((e2e.kind, e2e.status), ("command", StepStatus::Failed));
    assert_eq!(
        e2e.error.as_deref(),
        Some("1 of 3 tests failed; first: `pays`: expected paid, got pending")
    );
    let cases: Vec<(&str, Option<&str>, bool, Option<u64>)> = e2e
        .tests
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.classname.as_deref(),
                t.passed,
                t.duration_ms,
            )
        })
        .collect();
    assert_eq!(
        cases,
        vec![
            ("adds to cart", Some("cart.spec.ts"), true, Some(500)),
            ("shows total", Some("cart.spec.ts"), true, Some(250)),
            ("pays", Some("pay.spec.ts"), false, Some(1500)),
        ]
    );
    assert!(e2e.assertions.iter().all(|a| a.passed), "{e2e:#?}");
    // Two assertions and three test cases.
    assert_eq!(
        (
            outcome.tests_passed,
            outcome.tests_failed,
            outcome.tests_total
        ),
        (4, 1, 5)
    );
    assert_eq!(e2e.metrics[0].0, "duration");
}

#[tokio::test]
async fn a_missing_or_stale_junit_report_fails_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &workflow(
            dir.path(),
            r#"
      - name: e2e
        command: {run: ["true"], workdir: DIR, junit: results.xml}
"#,
        ),
    );
    let outcome = app::run(&config).await;
    let report = dir.path().join("results.xml");
    assert_eq!(
        step(&outcome, "e2e").error,
        Some(format!(
            "the JUnit report `{}` was not written",
            report.display()
        ))
    );
    std::fs::write(&report, "<testsuite/>").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&report)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let outcome = app::run(&config).await;
    assert_eq!(
        step(&outcome, "e2e").error,
        Some(format!(
            "the JUnit report `{}` was not written by this run (it is older than the step)",
            report.display()
        ))
    );
}

#[tokio::test]
async fn a_hanging_command_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &workflow(
            dir.path(),
            r#"
      - name: hang
        command: {run: [sh, -c, "sleep 30 & echo $! > child.pid; echo started; sleep 30"], workdir: DIR}
        timeout: 500ms
"#,
        ),
    );
    let started = Instant::now();
    let outcome = app::run(&config).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let hang = step(&outcome, "hang");
    assert_eq!(hang.status, StepStatus::TimedOut);
    assert_eq!(
        hang.error.as_deref(),
        Some("`sh` timed out after 500ms (step timeout) and was killed; last output: started")
    );
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
    assert!(
        gone(pid.trim()).await,
        "the background child {pid} survived"
    );
}

#[tokio::test]
async fn the_workflow_timeout_kills_a_running_command_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &format!(
            "  - name: w\n    timeout: 700ms\n    steps:\n{}",
            r#"
      - name: hang
        command: {run: [sh, -c, "sleep 30 & echo $! > child.pid; sleep 30"], workdir: DIR}
        timeout: 20s
    cleanup:
      - name: after
        command: {run: [sh, -c, "echo cleaned > cleaned.txt"], workdir: DIR}
"#
            .replace("DIR", &dir.path().display().to_string())
        ),
    );
    let started = Instant::now();
    let outcome = app::run(&config).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    assert_eq!(step(&outcome, "hang").status, StepStatus::TimedOut);
    assert_eq!(step(&outcome, "after").status, StepStatus::Passed);
    assert!(dir.path().join("cleaned.txt").exists());
    let pid = std::fs::read_to_string(dir.path().join("child.pid")).unwrap();
    assert!(
        gone(pid.trim()).await,
        "the background child {pid} survived"
    );
}

/// Whether the process has ended (a zombie waiting for its reaper counts as ended).
async fn gone(pid: &str) -> bool {
    for _ in 0..40 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

#[tokio::test]
async fn a_flooding_command_keeps_only_the_end_of_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &workflow(
            dir.path(),
            r#"
      - name: flood
        command: {run: [sh, -c, "yes 0123456789 | head -c 30000000; echo; echo the-end; exit 3"]}
        timeout: 60s
        assert: ["size(stdout) <= 65537 && stdout.endsWith('the-end\\n')", "stderr == ''"]
"#,
        ),
    );
    let outcome = app::run(&config).await;
    let flood = step(&outcome, "flood");
    assert_eq!(flood.status, StepStatus::Failed);
    assert!(flood.assertions.iter().all(|a| a.passed), "{flood:#?}");
    let error = flood.error.as_deref().unwrap();
    assert!(
        error.starts_with("`sh` exited with code 3; last output: …"),
        "{}",
        &error[..100]
    );
    assert!(error.ends_with("\nthe-end"), "{error}");
    assert!(error.chars().count() < 2100, "{}", error.len());
}

#[tokio::test]
async fn command_output_can_be_captured_and_asserted() {
    let dir = tempfile::tempdir().unwrap();
    let config = app::config(
        "http://127.0.0.1:1",
        &workflow(
            dir.path(),
            r#"
      - name: emit
        command: {run: [sh, -c, "echo '{\"id\": 42, \"name\": \"farm\"}'"]}
        assert: ["exit_code == 0 && json.id == 42"]
        capture: {farm_id: $.id, name: "regex:\"name\": \"(\\w+)\""}
      - name: use
        command: {run: [sh, -c, "test \"$1\" = 42-farm", sh, "{{ farm_id }}-{{ name }}"]}
      - name: missing program
        command: {run: [wfmon-no-such-program]}
"#,
        ),
    );
    let outcome = app::run_with(&config, &RunContext::new("r", vec![]), &NoObserver).await;
    let emit = step(&outcome, "emit");
    assert_eq!(emit.status, StepStatus::Passed, "{emit:#?}");
    assert_eq!(emit.captured, vec!["farm_id", "name"]);
    assert_eq!(step(&outcome, "use").status, StepStatus::Passed);
    let missing = step(&outcome, "missing program");
    assert_eq!(missing.status, StepStatus::Failed);
    assert_eq!(
        missing.error.as_deref(),
        Some("cannot start `wfmon-no-such-program`: No such file or directory (os error 2)")
    );
}
