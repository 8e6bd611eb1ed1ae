//! The evaluator and the outbox sender together on a real database (SQLite file), with a
//! real webhook receiver: the life of an alert from first failure to recovery.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use wfmon_engine::alerting::{
    AUTO_RESOLVER, ActionOutcome, AlertAction, AlertEvaluator, AlertingService,
};
use wfmon_engine::config::Config;
use wfmon_engine::events::{Event, EventBus};
use wfmon_engine::notify::sender::OutboxSender;
use wfmon_engine::notify::{Channel, build_channel};
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, DeliveryOutcome, ExecutionRecord, OpenMode, Store};

use crate::receivers::{Answer, HttpReceiver};

struct Rig {
    store: Store,
    config: Arc<Config>,
    evaluator: AlertEvaluator,
    rx: HttpReceiver,
    _dir: tempfile::TempDir,
}

const WORKFLOWS: &str = r#"
environments:
  production: {}
  staging: {}
workflows:
  - name: user-login
    steps:
      - name: log in
        health: {url: "http://127.0.0.1:9/login"}
  - name: api-health
    environments: [production]
    steps:
      - name: probe
        health: {url: "http://127.0.0.1:9/health"}
"#;

/// A configuration with the two workflows, channels `hook` and `pager` on the receiver,
/// fast retries, and the given `alerts:` section, on a fresh SQLite file.
async fn rig(alerts: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
    rig_on(alerts, url, dir).await
}

/// The same on a fresh schema of the PostgreSQL test database (`WFMON_TEST_POSTGRES_URL`),
/// or None (with a note) when it is unreachable outside CI.
async fn rig_on_postgres(alerts: &str) -> Option<Rig> {
    use sqlx::{ConnectOptions, Connection};
    let base = std::env::var("WFMON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned());
    let options: sqlx::postgres::PgConnectOptions = base.parse().unwrap();
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping PostgreSQL test: cannot connect to {base}: {e}");
            return None;
        }
        Err(e) => panic!("CI is set but PostgreSQL at {base} is unreachable: {e}"),
    };
    let schema = format!("t_{}", new_id("s").trim_start_matches("s_"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = DatabaseUrl::parse(&format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
    .unwrap();
    Some(rig_on(alerts, url, tempfile::tempdir().unwrap()).await)
}

async fn rig_on(alerts: &str, url: DatabaseUrl, dir: tempfile::TempDir) -> Rig {
    let rx = HttpReceiver::start().await;
    let text = format!(
        "{WORKFLOWS}\nnotifications:\n  delivery: {{timeout: 2s, attempts: 5, backoff: 50ms, \
         max_backoff: 200ms, breaker_failures: 10, breaker_cooldown: 100ms}}\n  channels:\n    \
         hook: {{webhook: {{url: \"{}\"}}}}\n    pager: {{webhook: {{url: \"{}\"}}}}\n{alerts}",
        rx.url("/hook"),
        rx.url("/pager")
    );
    let config = Arc::new(Config::parse(&text, Path::new("wfmon.yaml")).unwrap());
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let evaluator = AlertEvaluator::new(store.clone(), config.clone(), Arc::new(Notify::new()));
    Rig {
        store,
        config,
        evaluator,
        rx,
        _dir: dir,
    }
}

impl Rig {
    /// Records a finished run and lets the evaluator see it.
    async fn run(&self, workflow: &str, env: &str, passed: bool) -> WorkflowExecution {
        let record = record(workflow, env, passed);
        self.see(&record).await;
        record.execution
    }

    /// Records a finished attempt and lets the evaluator see it.
    async fn see(&self, record: &ExecutionRecord) {
        self.store
            .record_executions(std::slice::from_ref(record))
            .await
            .unwrap();
        self.evaluator
            .on_execution(&record.execution)
            .await
            .unwrap();
    }

    /// Records one run made of attempts with these outcomes, linked as the executor links
    /// them (every attempt but the last says a retry follows), each seen by the evaluator.
    async fn run_with_retries(&self, workflow: &str, env: &str, attempts: &[bool]) {
        let mut first: Option<String> = None;
        for (i, passed) in attempts.iter().enumerate() {
            let mut record = record(workflow, env, *passed);
            let e = &mut record.execution;
            e.attempt = i as i32 + 1;
            e.first_run_id = first.clone();
            if i + 1 < attempts.len() {
                e.metadata = Some(json(serde_json::json!({"retried": true})));
            }
            first.get_or_insert_with(|| e.run_id.clone());
            self.see(&record).await;
        }
    }

    fn sender(&self, owner: &str) -> Arc<OutboxSender> {
        let settings = self.config.notifications.delivery;
        let channels = self
            .config
            .notifications
            .channels
            .iter()
            .map(|(n, c)| (n.clone(), build_channel(c, settings.timeout)))
            .collect::<std::collections::BTreeMap<String, Arc<dyn Channel>>>();
        Arc::new(OutboxSender::new(
            self.store.clone(),
            channels,
            settings,
            owner.to_owned(),
            Arc::new(Notify::new()),
            self.config.secrets.clone(),
        ))
    }

    /// Delivers every notification due now, once each.
    async fn deliver(&self) -> Vec<DeliveryOutcome> {
        let sender = self.sender("test");
        let now = Timestamp::now();
        let claimed = self
            .store
            .claim_notifications("test", now, now.plus(chrono::TimeDelta::seconds(30)), 100)
            .await
            .unwrap();
        let mut outcomes = Vec::new();
        for row in claimed {
            outcomes.push(sender.deliver(row).await);
        }
        outcomes
    }

    async fn alert(&self, fingerprint: &str) -> Option<Alert> {
        self.store.open_alert(fingerprint).await.unwrap()
    }

    async fn logs(&self) -> Vec<NotificationLog> {
        let mut logs = self
            .store
            .recent_notifications(None, None, 100)
            .await
            .unwrap();
        logs.reverse();
        logs
    }
}

fn record(workflow: &str, env: &str, passed: bool) -> ExecutionRecord {
    let now = Timestamp::now();
    let run_id = new_id("run");
    let status = if passed {
        ExecutionStatus::Passed
    } else {
        ExecutionStatus::Failed
    };
    let execution = WorkflowExecution {
        id: new_id("exe"),
        run_id: run_id.clone(),
        workflow_name: workflow.into(),
        status,
        started_at: now,
        completed_at: Some(now),
        duration_ms: Some(321),
        tests_passed: i32::from(passed),
        tests_failed: i32::from(!passed),
        tests_total: 1,
        error_message: (!passed).then(|| "step `log in`: expected status 200, got 503".into()),
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: env.into(),
        metadata: None,
        report_id: None,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: Some("test".into()),
        created_at: now,
        updated_at: now,
    };
    let step = WorkflowStepResult {
        id: new_id("stp"),
        step_result_id: new_id("step"),
        execution_id: run_id,
        step_name: "log in".into(),
        step_order: 0,
        step_kind: "http".into(),
        status: if passed {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        },
        started_at: now,
        duration_ms: 300,
        assertions_passed: i32::from(passed),
        assertions_failed: i32::from(!passed),
        failed_assertion: (!passed).then(|| "status == 200".into()),
        assertions: Some(json(serde_json::json!([{
            "expression": "status == 200",
            "passed": passed,
            "expected": "200",
            "actual": if passed { "200" } else { "503" },
        }]))),
        captured: None,
        error_message: None,
        created_at: now,
    };
    ExecutionRecord {
        execution,
        steps: vec![step],
        metrics: vec![],
        health_checks: vec![],
    }
}

const LOGIN_RULE: &str = r#"
alerts:
  rules:
    - name: login-failing
      workflows: [user-login]
      severity: critical
      when: {consecutive_failures: 2}
      recover_after: 1
      channels: [hook]
"#;

#[tokio::test]
async fn a_failing_workflow_opens_one_alert_sends_once_and_recovers_with_a_message() {
    lifecycle(rig(LOGIN_RULE).await).await;
}

#[tokio::test]
async fn the_same_alert_lifecycle_on_postgres() {
    if let Some(r) = rig_on_postgres(LOGIN_RULE).await {
        assert_eq!(r.store.backend(), wfmon_store::Backend::Postgres);
        lifecycle(r).await;
    }
}

async fn lifecycle(r: Rig) {
    let fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    assert!(r.alert(fp).await.is_none(), "one failure is not enough");
    let second = r.run("user-login", "production", false).await;
    let alert = r.alert(fp).await.expect("open after two failures");
    assert_eq!(alert.status, AlertStatus::Active);
    assert_eq!(alert.severity, AlertSeverity::Critical);
    assert_eq!(r.deliver().await, [DeliveryOutcome::Sent]);
    let got = r.rx.wait_for(1).await;
    let body = got[0].json();
    assert_eq!(body["type"], "ALERT");
    assert_eq!(body["runId"], second.run_id.as_str());
    assert_eq!(body["failedStep"], "log in");
    assert_eq!(body["assertion"], "status == 200");
    assert_eq!(body["expected"], "200");
    assert_eq!(body["actual"], "503");
    assert_eq!(body["environment"], "production");

    // Failing on: the same episode, counted, and no more messages.
    r.run("user-login", "production", false).await;
    r.run("user-login", "production", false).await;
    assert!(r.deliver().await.is_empty());
    let alert = r.alert(fp).await.unwrap();
    assert_eq!(alert.occurrences, 3);
    assert_eq!(r.store.count::<Alert>().await.unwrap(), 1);

    // Recovery: resolved by wfmon, and a recovery message.
    let pass = r.run("user-login", "production", true).await;
    assert!(r.alert(fp).await.is_none());
    let resolved = r
        .store
        .get::<Alert>(&alert.alert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some(AUTO_RESOLVER));
    assert_eq!(r.deliver().await, [DeliveryOutcome::Sent]);
    let got = r.rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["type"], "RECOVERY");
    let logs = r.logs().await;
    assert_eq!(logs.len(), 2);
    assert!(logs.iter().all(|l| l.status == NotificationStatus::Sent
        && l.alert_id.as_deref() == Some(alert.alert_id.as_str())
        && l.channel == NotificationChannel::Webhook
        && l.channel_name.as_deref() == Some("hook")));
    assert_eq!(
        logs[0].execution_id.as_deref(),
        Some(second.run_id.as_str())
    );
    assert_eq!(logs[1].execution_id.as_deref(), Some(pass.run_id.as_str()));
    assert_eq!(logs[1].notification_type, NotificationType::Recovery);
    // The stored description of where it went has no URL path (tokens live there).
    let recipient = logs[0].recipient.as_deref().unwrap();
    assert!(!recipient.contains("/hook"), "{recipient}");
}

#[tokio::test]
async fn a_run_counts_once_whatever_its_retries_and_a_pass_on_retry_is_a_pass() {
    let r = rig(LOGIN_RULE).await;
    let fp = "login-failing/user-login/production";
    // One run, three failed attempts: one failed run, not three.
    r.run_with_retries("user-login", "production", &[false, false, false])
        .await;
    assert!(r.alert(fp).await.is_none());
    // A failed run, then a run that fails once and passes on retry: no two failures in a row.
    r.run_with_retries("user-login", "production", &[false, true])
        .await;
    assert!(r.alert(fp).await.is_none());
    r.run_with_retries("user-login", "production", &[false, false])
        .await;
    assert!(r.alert(fp).await.is_none());
    // A second failed run in a row opens it.
    r.run_with_retries("user-login", "production", &[false])
        .await;
    let alert = r.alert(fp).await.expect("two failed runs in a row");
    assert_eq!(alert.occurrences, 1);
}

#[tokio::test]
async fn an_unacknowledged_alert_escalates_and_reminds_until_acknowledged() {
    let r = rig(r#"
alerts:
  rules:
    - name: login-failing
      workflows: [user-login]
      when: {consecutive_failures: 1}
      channels: [hook]
      escalate_after: 200ms
      escalate_to: [pager]
      remind_every: 300ms
"#)
    .await;
    let fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    r.deliver().await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert_eq!(
        r.alert(fp).await.unwrap().status,
        AlertStatus::Active,
        "not yet"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    let alert = r.alert(fp).await.unwrap();
    assert_eq!(alert.status, AlertStatus::Escalated);
    assert!(alert.escalated_at.is_some());
    r.deliver().await;
    let got = r.rx.wait_for(2).await;
    assert_eq!(
        (got[1].path.as_str(), got[1].json()["type"].as_str()),
        ("/pager", Some("ESCALATION"))
    );
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert!(r.deliver().await.is_empty(), "escalates once");

    tokio::time::sleep(Duration::from_millis(350)).await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    r.deliver().await;
    let got = r.rx.wait_for(3).await;
    assert_eq!(got.len(), 3, "one reminder per interval");
    assert_eq!(
        (got[2].path.as_str(), got[2].json()["type"].as_str()),
        ("/hook", Some("REMINDER"))
    );

    r.store
        .acknowledge_alert(&alert.alert_id, "alice", Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert!(
        r.deliver().await.is_empty(),
        "no reminder once acknowledged"
    );
    assert_eq!(r.rx.received().len(), 3);
}

#[tokio::test]
async fn silences_and_maintenance_windows_record_alerts_but_send_nothing() {
    let r = rig(
        r#"
alerts:
  rules:
    - name: login-failing
      workflows: [user-login]
      when: {consecutive_failures: 1}
      channels: [hook]
  silences:
    - {rule: login-failing, environment: production, until: "2100-01-01T00:00:00Z", reason: deploying the new login}
  maintenance:
    - {name: nightly, schedule: "* * * * *", duration: 1h, environments: [staging]}
"#,
    )
    .await;
    r.run("user-login", "production", false).await;
    r.run("user-login", "staging", false).await;
    let prod = r
        .alert("login-failing/user-login/production")
        .await
        .unwrap();
    let staging = r.alert("login-failing/user-login/staging").await.unwrap();
    assert_eq!(prod.status, AlertStatus::Active, "recorded");
    assert_eq!(staging.status, AlertStatus::Active, "recorded");
    assert!(r.deliver().await.is_empty());
    let logs = r.logs().await;
    assert_eq!(logs.len(), 2);
    assert!(
        logs.iter()
            .all(|l| l.status == NotificationStatus::Suppressed)
    );
    let reason = |a: &Alert| {
        logs.iter()
            .find(|l| l.alert_id.as_deref() == Some(a.alert_id.as_str()))
            .and_then(|l| l.error_message.clone())
            .unwrap()
    };
    assert!(
        reason(&prod).contains("deploying the new login"),
        "{}",
        reason(&prod)
    );
    assert!(
        reason(&staging).contains("maintenance window `nightly`"),
        "{}",
        reason(&staging)
    );
    // Re-triggers inside the silence add nothing.
    r.run("user-login", "production", false).await;
    assert_eq!(r.logs().await.len(), 2);
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert!(r.deliver().await.is_empty());
    assert!(r.rx.received().is_empty());
}

#[tokio::test]
async fn an_alert_whose_dependency_is_open_is_recorded_silenced_with_the_reason() {
    let r = rig(r#"
alerts:
  rules:
    - name: api-down
      workflows: [api-health]
      severity: critical
      when: {consecutive_failures: 1}
      channels: [pager]
    - name: login-failing
      workflows: [user-login]
      when: {consecutive_failures: 1}
      channels: [hook]
      depends_on: [api-down]
"#)
    .await;
    r.run("api-health", "production", false).await;
    r.run("user-login", "production", false).await;
    let api = r.alert("api-down/api-health/production").await.unwrap();
    let login = r
        .alert("login-failing/user-login/production")
        .await
        .unwrap();
    assert_eq!(api.status, AlertStatus::Active);
    assert_eq!(login.status, AlertStatus::Silenced);
    let why = login.metadata.as_ref().unwrap().0["silencedReason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        why.contains("api-down") && why.contains(&api.alert_id),
        "{why}"
    );
    r.deliver().await;
    let got = r.rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(r.rx.received().len(), 1, "only the cause is notified");
    assert_eq!(got[0].path, "/pager");
    let suppressed: Vec<NotificationLog> = r
        .logs()
        .await
        .into_iter()
        .filter(|l| l.status == NotificationStatus::Suppressed)
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].error_message.as_deref(), Some(why.as_str()));
    // Its recovery is not announced either: nobody was told it fired.
    r.run("user-login", "production", true).await;
    assert!(r.deliver().await.is_empty());
}

#[tokio::test]
async fn a_channel_down_then_up_gets_the_message_once_and_the_log_shows_the_retries() {
    let r = rig(LOGIN_RULE).await;
    r.rx.answer(&[Answer::Status(500), Answer::TooMany(0)]);
    r.run("user-login", "production", false).await;
    r.run("user-login", "production", false).await;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(r.sender("daemon").run(stopped));
    let got = r.rx.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(r.rx.received().len(), 3, "{got:?}");
    let logs = r.logs().await;
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    assert_eq!(log.status, NotificationStatus::Sent);
    assert_eq!(log.delivery_status, Some(DeliveryStatus::Delivered));
    assert_eq!(log.retry_count, 2);
    assert!(
        log.error_message.as_deref().unwrap().contains("HTTP 429"),
        "{log:?}"
    );
    // The same idempotency key on every attempt.
    let keys: Vec<String> = got
        .iter()
        .map(|g| g.header("idempotency-key").unwrap())
        .collect();
    assert!(keys.iter().all(|k| k == &log.log_id), "{keys:?}");
}

#[tokio::test]
async fn a_receiver_that_refuses_the_message_fails_it_with_the_reason() {
    let r = rig(LOGIN_RULE).await;
    r.rx.answer(&[Answer::Status(400)]);
    r.run("user-login", "production", false).await;
    r.run("user-login", "production", false).await;
    let outcomes = r.deliver().await;
    match &outcomes[..] {
        [DeliveryOutcome::Failed { error }] => assert!(error.contains("HTTP 400"), "{error}"),
        other => panic!("{other:?}"),
    }
    let log = &r.logs().await[0];
    assert_eq!(log.status, NotificationStatus::Failed);
    assert_eq!(log.delivery_status, Some(DeliveryStatus::Undelivered));
    assert!(log.error_message.as_deref().unwrap().contains("HTTP 400"));
}

#[tokio::test]
async fn pending_notifications_survive_a_restart_and_are_delivered_once() {
    let r = rig(LOGIN_RULE).await;
    r.run("user-login", "production", false).await;
    r.run("user-login", "production", false).await;
    // A sender claimed it and died before sending: its claim expires.
    let now = Timestamp::now();
    let held = r
        .store
        .claim_notifications(
            "dead:1",
            now,
            now.plus(chrono::TimeDelta::milliseconds(300)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    // "Restart": a new sender (another instance id) on the same database.
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(r.sender("host:2").run(stopped));
    r.rx.wait_for(1).await;
    let _ = stop.send(true);
    task.await.unwrap();
    // Another restart delivers nothing more.
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(r.sender("host:3").run(stopped));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let _ = stop.send(true);
    task.await.unwrap();
    assert_eq!(r.rx.received().len(), 1);
    assert_eq!(r.logs().await[0].status, NotificationStatus::Sent);
}

#[tokio::test]
async fn an_alert_whose_rule_left_the_configuration_is_resolved_saying_why() {
    let r = rig(LOGIN_RULE).await;
    let fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    r.run("user-login", "production", false).await;
    let open = r.alert(fp).await.expect("open");
    // The same database under a configuration without the rule.
    let without = Arc::new(Config::parse(WORKFLOWS, Path::new("wfmon.yaml")).unwrap());
    let evaluator = AlertEvaluator::new(r.store.clone(), without, Arc::new(Notify::new()));
    evaluator.tick(Timestamp::now()).await.unwrap();
    assert!(r.alert(fp).await.is_none());
    let all = r.store.recent_alerts(false, 10).await.unwrap();
    let closed = all.iter().find(|a| a.alert_id == open.alert_id).unwrap();
    assert_eq!(closed.status, AlertStatus::Resolved);
    assert_eq!(
        closed.resolved_by.as_deref(),
        Some(wfmon_engine::alerting::REMOVED_RESOLVER)
    );
}

#[tokio::test]
async fn an_absent_workflow_alerts_on_the_timer_and_a_run_resolves_it() {
    let r = rig(r#"
alerts:
  rules:
    - name: silent
      workflows: [api-health]
      when: {no_run_for: 200ms}
      channels: [hook]
"#)
    .await;
    let fp = "silent/api-health/production";
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert!(r.alert(fp).await.is_none());
    tokio::time::sleep(Duration::from_millis(250)).await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    let alert = r.alert(fp).await.expect("absent");
    assert!(
        alert.message.contains("no run for 200ms"),
        "{}",
        alert.message
    );
    r.run("api-health", "production", true).await;
    assert!(r.alert(fp).await.is_none(), "a run resolves it");
    r.deliver().await;
    let got = r.rx.wait_for(2).await;
    assert_eq!(got[0].json()["type"], "ALERT");
    assert_eq!(got[1].json()["type"], "RECOVERY");
}

#[tokio::test]
async fn the_service_listens_to_recorded_executions_and_delivers() {
    let r = rig(LOGIN_RULE).await;
    let events = EventBus::new();
    let service = AlertingService::start(r.store.clone(), r.config.clone(), &events, "svc".into());
    for _ in 0..2 {
        let record = record("user-login", "production", false);
        r.store
            .record_executions(std::slice::from_ref(&record))
            .await
            .unwrap();
        events.publish(Event::ExecutionRecorded {
            execution: Box::new(record.execution),
        });
    }
    let got = r.rx.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "ALERT");
    service.stop().await;
}

#[tokio::test]
async fn runs_the_results_writer_commits_reach_alerting() {
    let r = rig(LOGIN_RULE).await;
    let events = EventBus::new();
    let service = AlertingService::start(r.store.clone(), r.config.clone(), &events, "svc".into());
    let (writer, task) = wfmon_engine::writer::ResultWriter::start_with_events(
        r.store.clone(),
        100,
        Some(events.clone()),
    );
    for _ in 0..2 {
        let record = record("user-login", "production", false);
        assert!(writer.send(wfmon_engine::writer::WriteJob::Finished(
            Box::new(record),
            None
        )));
    }
    let got = r.rx.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "ALERT");
    service.stop().await;
    task.abort();
}

/// `Timestamp::now()` plus `minutes`.
fn in_minutes(minutes: i64) -> Timestamp {
    Timestamp::now().plus(chrono::TimeDelta::minutes(minutes))
}

/// The types of the messages the receiver got at `path`, in order.
fn got_at(r: &Rig, path: &str) -> Vec<String> {
    r.rx.received()
        .iter()
        .filter(|g| g.path == path)
        .map(|g| g.json()["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn act(r: &Rig, alert_id: &str, action: AlertAction) -> Alert {
    match r.evaluator.act(alert_id, "alice", &action).await.unwrap() {
        ActionOutcome::Changed(alert) => alert,
        other => panic!("{action:?} on {alert_id}: {other:?}"),
    }
}

const PAGED_RULE: &str = r#"
alerts:
  rules:
    - name: login-failing
      workflows: [user-login]
      when: {consecutive_failures: 1}
      channels: [hook]
      escalate_after: 10m
      escalate_to: [pager]
      remind_every: 30m
"#;

#[tokio::test]
async fn an_acknowledged_alert_stays_acknowledged_when_its_silence_ends() {
    silence_ends_in_the_status_it_had(rig(PAGED_RULE).await).await;
}

#[tokio::test]
async fn a_silence_ends_in_the_status_it_had_on_postgres() {
    if let Some(r) = rig_on_postgres(PAGED_RULE).await {
        silence_ends_in_the_status_it_had(r).await;
    }
}

async fn silence_ends_in_the_status_it_had(r: Rig) {
    let fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    r.deliver().await;
    r.evaluator.tick(in_minutes(11)).await.unwrap();
    let alert = r.alert(fp).await.unwrap();
    assert_eq!(alert.status, AlertStatus::Escalated);
    r.deliver().await;
    r.rx.wait_for(2).await;
    assert_eq!(got_at(&r, "/pager"), ["ESCALATION"]);

    let acked = act(&r, &alert.alert_id, AlertAction::Acknowledge).await;
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    let silenced = act(
        &r,
        &alert.alert_id,
        AlertAction::Silence {
            until: in_minutes(60),
            reason: "deploying".into(),
        },
    )
    .await;
    assert_eq!(silenced.status, AlertStatus::Silenced);
    r.evaluator.tick(in_minutes(30)).await.unwrap();
    assert_eq!(r.alert(fp).await.unwrap().status, AlertStatus::Silenced);

    // The silence ends: acknowledged again, and neither reminded nor escalated, ever.
    for minutes in [61, 120, 240] {
        r.evaluator.tick(in_minutes(minutes)).await.unwrap();
        let now = r.alert(fp).await.unwrap();
        assert_eq!(now.status, AlertStatus::Acknowledged, "at +{minutes}m");
        assert_eq!(now.acknowledged_by.as_deref(), Some("alice"));
        assert_eq!(now.escalated_at, alert.escalated_at);
    }
    assert!(r.deliver().await.is_empty(), "{:?}", r.logs().await);
    assert_eq!(r.rx.received().len(), 2);

    // Unacknowledged, in staging: back to ACTIVE when its silence ends, and since nobody
    // acknowledged it in time, escalated then.
    let fp = "login-failing/user-login/staging";
    r.run("user-login", "staging", false).await;
    r.deliver().await;
    let open = r.alert(fp).await.unwrap();
    act(
        &r,
        &open.alert_id,
        AlertAction::Silence {
            until: in_minutes(60),
            reason: "deploying".into(),
        },
    )
    .await;
    r.evaluator.tick(in_minutes(11)).await.unwrap();
    assert_eq!(r.alert(fp).await.unwrap().status, AlertStatus::Silenced);
    r.evaluator.tick(in_minutes(61)).await.unwrap();
    let back = r.alert(fp).await.unwrap();
    assert_eq!(back.status, AlertStatus::Escalated);
    assert_eq!(back.acknowledged_by, None);
    r.deliver().await;
    r.rx.wait_for(4).await;
    assert_eq!(got_at(&r, "/pager"), ["ESCALATION", "ESCALATION"]);

    // A record an earlier version left ACTIVE after its acknowledgement is acknowledged.
    let legacy = Alert {
        acknowledged_at: Some(Timestamp::now()),
        acknowledged_by: Some("bob".into()),
        last_notified_at: Some(Timestamp::now()),
        ..back.clone()
    };
    r.store
        .resolve_alert(&back.alert_id, "test", Timestamp::now(), &[])
        .await
        .unwrap();
    let legacy = Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        status: AlertStatus::Active,
        escalated_at: None,
        resolved_at: None,
        resolved_by: None,
        ..legacy
    };
    r.store.insert(std::slice::from_ref(&legacy)).await.unwrap();
    r.evaluator.tick(in_minutes(120)).await.unwrap();
    let repaired = r.alert(fp).await.unwrap();
    assert_eq!(repaired.alert_id, legacy.alert_id);
    assert_eq!(repaired.status, AlertStatus::Acknowledged);
    assert!(r.deliver().await.is_empty(), "{:?}", r.logs().await);
}

const DEPENDENT_RULES: &str = r#"
alerts:
  rules:
    - name: api-down
      workflows: [api-health]
      severity: critical
      when: {consecutive_failures: 1}
      channels: [pager]
    - name: login-failing
      workflows: [user-login]
      when: {consecutive_failures: 1}
      channels: [hook]
      remind_every: 30m
      escalate_after: 10m
      depends_on: [api-down]
"#;

#[tokio::test]
async fn a_dependency_that_opens_after_its_dependent_silences_it() {
    dependency_opens_second(rig(DEPENDENT_RULES).await).await;
}

#[tokio::test]
async fn a_dependency_that_opens_second_silences_on_postgres() {
    if let Some(r) = rig_on_postgres(DEPENDENT_RULES).await {
        dependency_opens_second(r).await;
    }
}

async fn dependency_opens_second(r: Rig) {
    let login_fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    assert_eq!(
        r.alert(login_fp).await.unwrap().status,
        AlertStatus::Active,
        "nothing it depends on is open yet"
    );
    // Its dependency opens before its notification went out.
    r.run("api-health", "production", false).await;
    let api = r.alert("api-down/api-health/production").await.unwrap();
    let login = r.alert(login_fp).await.unwrap();
    assert_eq!(login.status, AlertStatus::Silenced);
    let why = login.metadata.as_ref().unwrap().0["silencedReason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(why.contains(&api.alert_id), "{why}");
    assert_eq!(r.deliver().await, [DeliveryOutcome::Sent]);
    r.rx.wait_for(1).await;
    let logs = r.logs().await;
    let login_rows: Vec<&NotificationLog> = logs
        .iter()
        .filter(|l| l.alert_id.as_deref() == Some(login.alert_id.as_str()))
        .collect();
    assert_eq!(login_rows.len(), 1, "{logs:?}");
    assert_eq!(login_rows[0].status, NotificationStatus::Suppressed);
    assert_eq!(login_rows[0].error_message.as_deref(), Some(why.as_str()));

    // While the dependency is open: no reminder, no escalation.
    r.evaluator.tick(in_minutes(45)).await.unwrap();
    r.run("user-login", "production", false).await;
    assert!(r.deliver().await.is_empty());
    assert_eq!(
        r.alert(login_fp).await.unwrap().status,
        AlertStatus::Silenced
    );
    assert_eq!(got_at(&r, "/pager"), ["ALERT"]);
    assert!(got_at(&r, "/hook").is_empty());

    // The dependency recovers; the dependent fires again: it is told now, once.
    r.run("api-health", "production", true).await;
    r.evaluator.tick(Timestamp::now()).await.unwrap();
    assert_eq!(
        r.alert(login_fp).await.unwrap().status,
        AlertStatus::Silenced
    );
    r.run("user-login", "production", false).await;
    let login = r.alert(login_fp).await.unwrap();
    assert_eq!(login.status, AlertStatus::Active);
    assert!(login.metadata.unwrap().0.get("silencedReason").is_none());
    r.run("user-login", "production", false).await;
    r.deliver().await;
    r.rx.wait_for(3).await;
    assert_eq!(got_at(&r, "/pager"), ["ALERT", "RECOVERY"]);
    assert_eq!(got_at(&r, "/hook"), ["ALERT"]);
    r.run("user-login", "production", true).await;
    r.deliver().await;
    r.rx.wait_for(4).await;
    assert_eq!(got_at(&r, "/hook"), ["ALERT", "RECOVERY"]);
}

#[tokio::test]
async fn runs_evaluated_together_apply_dependencies_first_whatever_their_order() {
    let r = rig(DEPENDENT_RULES).await;
    let login = record("user-login", "production", false);
    let api = record("api-health", "production", false);
    r.store
        .record_executions(&[login.clone(), api.clone()])
        .await
        .unwrap();
    let (events, seen) = {
        let events = EventBus::new();
        let seen = events.subscribe();
        (events, seen)
    };
    let evaluator = AlertEvaluator::new(r.store.clone(), r.config.clone(), Arc::new(Notify::new()))
        .with_events(events);
    evaluator
        .on_executions(&[login.execution, api.execution])
        .await
        .unwrap();
    let login = r
        .alert("login-failing/user-login/production")
        .await
        .unwrap();
    assert_eq!(login.status, AlertStatus::Silenced);
    // It opened SILENCED: never ACTIVE, not even for a moment.
    let mut seen = seen;
    let mut changes = Vec::new();
    while let Ok(event) = seen.try_recv() {
        if let Event::AlertChanged { change, alert } = event
            && alert.alert_id == login.alert_id
        {
            changes.push((change, alert.status));
        }
    }
    assert_eq!(changes, [("opened", AlertStatus::Silenced)]);
    r.deliver().await;
    r.rx.wait_for(1).await;
    assert_eq!(got_at(&r, "/pager"), ["ALERT"]);
    assert!(got_at(&r, "/hook").is_empty());
}

#[tokio::test]
async fn the_service_silences_a_dependent_reported_before_its_dependency() {
    let r = rig(DEPENDENT_RULES).await;
    let events = EventBus::new();
    let service = AlertingService::start(r.store.clone(), r.config.clone(), &events, "svc".into());
    let login = record("user-login", "production", false);
    let api = record("api-health", "production", false);
    r.store
        .record_executions(&[login.clone(), api.clone()])
        .await
        .unwrap();
    // One batch of the results writer: the dependent first.
    for record in [login, api] {
        events.publish(Event::ExecutionRecorded {
            execution: Box::new(record.execution),
        });
    }
    let got = r.rx.wait_for(1).await;
    assert_eq!(got[0].path, "/pager");
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.stop().await;
    assert_eq!(r.rx.received().len(), 1, "{:?}", r.rx.received());
    assert_eq!(
        r.alert("login-failing/user-login/production")
            .await
            .unwrap()
            .status,
        AlertStatus::Silenced
    );
}

#[tokio::test]
async fn the_timer_silences_an_alert_whose_dependency_opened_elsewhere() {
    let r = rig(DEPENDENT_RULES).await;
    let login_fp = "login-failing/user-login/production";
    r.run("user-login", "production", false).await;
    r.deliver().await;
    r.rx.wait_for(1).await;
    // Another instance opens the dependency's alert (and notifies it).
    let now = Timestamp::now();
    let api = Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "api-down".into(),
        workflow_name: "api-health".into(),
        environment: "production".into(),
        severity: AlertSeverity::Critical,
        status: AlertStatus::Active,
        fingerprint: "api-down/api-health/production".into(),
        message: "the last 1 run(s) failed in a row".into(),
        triggered_at: now,
        last_triggered_at: now,
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        escalated_at: None,
        last_notified_at: Some(now),
        metadata: None,
        created_at: now,
        updated_at: now,
    };
    r.store.trigger_alert(&api).await.unwrap();
    r.evaluator.tick(in_minutes(45)).await.unwrap();
    let login = r.alert(login_fp).await.unwrap();
    assert_eq!(
        login.status,
        AlertStatus::Silenced,
        "no escalation, no reminder"
    );
    assert!(login.escalated_at.is_none());
    // The first notification went out before: it stays on record as told.
    assert!(login.last_notified_at.is_some());
    let kinds: Vec<NotificationType> = r
        .logs()
        .await
        .iter()
        .filter(|l| l.alert_id.as_deref() == Some(login.alert_id.as_str()))
        .map(|l| l.notification_type)
        .collect();
    assert_eq!(kinds, [NotificationType::Alert]);
    // Whoever was told it fired hears it resolved: a dependency's silence does not hold
    // the recovery back.
    r.run("user-login", "production", true).await;
    assert_eq!(r.deliver().await, [DeliveryOutcome::Sent]);
    r.rx.wait_for(2).await;
    assert_eq!(got_at(&r, "/hook"), ["ALERT", "RECOVERY"]);
}

#[tokio::test]
async fn whoever_was_sent_the_escalation_hears_the_recovery() {
    escalation_recipients_hear_the_recovery(rig(PAGED_RULE).await).await;
}

#[tokio::test]
async fn whoever_was_sent_the_escalation_hears_the_recovery_on_postgres() {
    if let Some(r) = rig_on_postgres(PAGED_RULE).await {
        escalation_recipients_hear_the_recovery(r).await;
    }
}

async fn escalation_recipients_hear_the_recovery(r: Rig) {
    // Resolved by itself.
    r.run("user-login", "production", false).await;
    r.evaluator.tick(in_minutes(11)).await.unwrap();
    r.deliver().await;
    r.rx.wait_for(2).await;
    r.run("user-login", "production", true).await;
    r.deliver().await;
    r.rx.wait_for(4).await;
    assert_eq!(got_at(&r, "/hook"), ["ALERT", "RECOVERY"]);
    assert_eq!(got_at(&r, "/pager"), ["ESCALATION", "RECOVERY"]);

    // Resolved by hand.
    r.run("user-login", "staging", false).await;
    r.evaluator.tick(in_minutes(11)).await.unwrap();
    r.deliver().await;
    r.rx.wait_for(6).await;
    let open = r.alert("login-failing/user-login/staging").await.unwrap();
    act(&r, &open.alert_id, AlertAction::Resolve).await;
    r.deliver().await;
    r.rx.wait_for(8).await;
    assert_eq!(
        got_at(&r, "/hook"),
        ["ALERT", "RECOVERY", "ALERT", "RECOVERY"]
    );
    assert_eq!(
        got_at(&r, "/pager"),
        ["ESCALATION", "RECOVERY", "ESCALATION", "RECOVERY"]
    );
    let recovery =
        r.rx.received()
            .into_iter()
            .rfind(|g| g.path == "/pager")
            .unwrap();
    assert!(
        recovery.json()["summary"]
            .as_str()
            .unwrap()
            .contains("resolved by alice"),
        "{:?}",
        recovery.json()
    );

    // Told, then silenced by hand: the recovery is logged, suppressed with the silence.
    r.run("user-login", "production", false).await;
    r.deliver().await;
    r.rx.wait_for(9).await;
    let open = r
        .alert("login-failing/user-login/production")
        .await
        .unwrap();
    act(
        &r,
        &open.alert_id,
        AlertAction::Silence {
            until: in_minutes(60),
            reason: "deploying".into(),
        },
    )
    .await;
    r.run("user-login", "production", true).await;
    assert!(r.deliver().await.is_empty());
    let recovery = r
        .logs()
        .await
        .into_iter()
        .rfind(|l| l.alert_id.as_deref() == Some(open.alert_id.as_str()))
        .unwrap();
    assert_eq!(recovery.notification_type, NotificationType::Recovery);
    assert_eq!(recovery.status, NotificationStatus::Suppressed);
    let why = recovery.error_message.unwrap();
    assert!(
        why.contains("silenced by alice until") && why.ends_with(": deploying"),
        "{why}"
    );

    // An alert nobody was told of gets no recovery: its only notification suppressed.
    r.run("user-login", "production", false).await;
    let open = r
        .alert("login-failing/user-login/production")
        .await
        .unwrap();
    act(
        &r,
        &open.alert_id,
        AlertAction::Silence {
            until: in_minutes(60),
            reason: "deploying".into(),
        },
    )
    .await;
    r.run("user-login", "production", true).await;
    assert!(r.deliver().await.is_empty());
    assert_eq!(r.rx.received().len(), 9);
    assert!(
        !r.logs()
            .await
            .iter()
            .any(|l| l.alert_id.as_deref() == Some(open.alert_id.as_str())
                && l.notification_type == NotificationType::Recovery),
        "no recovery at all"
    );
}
