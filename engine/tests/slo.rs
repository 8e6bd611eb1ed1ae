//! Service level objectives on a real database, on both backends: the figures of a fixture
//! with hand-computed answers (maintenance-window runs left out), and the multi-window
//! burn-rate rule through the evaluator: it does not open on a blip, opens when both windows
//! burn, queues its notification through the outbox, and resolves when the burning stops.

use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use tokio::sync::Notify;
use wfmon_engine::alerting::{AUTO_RESOLVER, AlertEvaluator};
use wfmon_engine::config::Config;
use wfmon_engine::slo::slo_status;
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, ExecutionRecord, OpenMode, Store};

/// A fresh SQLite file.
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("s.db").display())).unwrap();
    (Store::open(&url, OpenMode::Create).await.unwrap(), dir)
}

/// A fresh schema of the PostgreSQL test database (`WFMON_TEST_POSTGRES_URL`), or None
/// (with a note) when it is unreachable outside CI.
async fn postgres() -> Option<Store> {
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
    Some(Store::open(&url, OpenMode::Create).await.unwrap())
}

const CONFIG: &str = r#"
environments:
  production: {}
  staging: {}
workflows:
  - name: checkout
    steps:
      - name: order
        health: {url: "http://127.0.0.1:9/order"}
slos:
  - name: checkout-availability
    workflow: checkout
    objective: {success: 90%}
    window: 1d
  - name: checkout-latency
    workflow: checkout
    environment: production
    objective: {latency: {under: 2s, target: 80%}}
    window: 1d
  - name: checkout-strict
    workflow: checkout
    environment: production
    objective: {success: 99%}
    window: 30d
notifications:
  routes:
    CRITICAL: [log]
  channels:
    log: {console: {}}
alerts:
  rules:
    - name: checkout-fast-burn
      severity: CRITICAL
      when: {burn_rate: {slo: checkout-strict, window: fast}}
"#;

/// Daily deploys in production from 10:00 to 10:30 UTC.
const MAINTENANCE: &str = r#"
  maintenance:
    - {name: deploys, schedule: "0 10 * * *", duration: 30m, environments: [production]}
"#;

/// The configuration, with the maintenance window or without (the burn-rate test runs at
/// the real time of day, which may fall in it).
fn config(maintenance: bool) -> Arc<Config> {
    let text = if maintenance {
        format!("{CONFIG}{MAINTENANCE}")
    } else {
        CONFIG.to_owned()
    };
    Arc::new(Config::parse(&text, Path::new("wfmon.yaml")).unwrap())
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn run(env: &str, status: ExecutionStatus, started_at: Timestamp, ms: i32) -> ExecutionRecord {
    let now = Timestamp::now();
    ExecutionRecord {
        execution: WorkflowExecution {
            id: new_id("exe"),
            run_id: new_id("run"),
            workflow_name: "checkout".into(),
            status,
            started_at,
            completed_at: Some(started_at.plus(TimeDelta::milliseconds(ms.into()))),
            duration_ms: Some(ms),
            tests_passed: 0,
            tests_failed: 0,
            tests_total: 0,
            error_message: None,
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
        },
        steps: vec![],
        metrics: vec![],
        health_checks: vec![],
    }
}

fn close(got: Option<f64>, want: f64) {
    let got = got.expect("a figure");
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

#[tokio::test]
async fn figures_match_a_hand_computed_fixture_on_sqlite() {
    let (store, _dir) = sqlite().await;
    figures_match_a_hand_computed_fixture(store).await;
}

#[tokio::test]
async fn figures_match_a_hand_computed_fixture_on_postgres() {
    if let Some(store) = postgres().await {
        figures_match_a_hand_computed_fixture(store).await;
    }
}

async fn figures_match_a_hand_computed_fixture(store: Store) {
    use ExecutionStatus::{Failed, Passed};
    let config = config(true);
    let now = at("2026-03-10T12:00:00Z");
    let fixture = [
        ("2026-03-09T10:15:00Z", Failed, 100), // before the 1-day window
        ("2026-03-09T18:00:00Z", Passed, 100),
        ("2026-03-10T05:00:00Z", Failed, 100),
        ("2026-03-10T09:00:00Z", Passed, 100),
        ("2026-03-10T10:10:00Z", Failed, 100), // maintenance 10:00-10:30: left out
        ("2026-03-10T10:20:00Z", Failed, 3000), // maintenance: left out
        ("2026-03-10T10:40:00Z", Passed, 2500),
        ("2026-03-10T11:10:00Z", Passed, 100),
        ("2026-03-10T11:20:00Z", Failed, 100),
        ("2026-03-10T11:30:00Z", Passed, 1500),
        ("2026-03-10T11:58:00Z", Passed, 100),
        ("2026-03-10T12:00:00Z", Failed, 100), // at the end: windows are half-open
    ];
    let mut batch: Vec<ExecutionRecord> = fixture
        .iter()
        .map(|(t, s, ms)| run("production", *s, at(t), *ms))
        .collect();
    // The maintenance window covers production only: this staging failure counts.
    batch.push(run("staging", Failed, at("2026-03-10T10:15:00Z"), 100));
    store.record_executions(&batch).await.unwrap();

    let slo = config.slo("checkout-availability").unwrap();
    let status = slo_status(&store, &config, slo, now).await.unwrap();
    assert_eq!(status.environments.len(), 2, "production and staging");
    let p = &status.environments[0];
    assert_eq!(p.environment, "production");
    // 8 runs counted (12 written: one before the window, two in maintenance, one at its
    // end), 6 good, 2 bad; a 10% budget of 8 runs is 0.8 run.
    assert_eq!((p.figures.runs, p.figures.good, p.figures.bad), (8, 6, 2));
    close(p.figures.attained, 0.75);
    close(p.figures.budget_total_runs, 0.8);
    close(p.figures.budget_used_fraction, 2.5);
    close(p.figures.budget_left_fraction, -1.5);
    close(p.figures.budget_left_runs, -1.2);
    close(p.figures.burn_rate, 2.5); // (2/8) / 0.1
    close(p.burn_rate_1h, 2.5); // 11:10, 11:20 (bad), 11:30, 11:58: (1/4) / 0.1
    close(p.burn_rate_6h, 10.0 / 6.0); // 6 runs from 09:00, 1 bad: (1/6) / 0.1
    let s = &status.environments[1];
    assert_eq!(
        (s.environment.as_str(), s.figures.runs, s.figures.good),
        ("staging", 1, 0)
    );
    close(s.figures.burn_rate, 10.0);

    // Latency under 2 s: of the same 8 runs only the 2500 ms one is bad (the 3000 ms one
    // fell in maintenance).
    let slo = config.slo("checkout-latency").unwrap();
    let status = slo_status(&store, &config, slo, now).await.unwrap();
    assert_eq!(status.environments.len(), 1);
    let p = &status.environments[0];
    assert_eq!((p.figures.runs, p.figures.good), (8, 7));
    close(p.figures.attained, 0.875);
    close(p.figures.budget_left_fraction, 0.375); // 1 - 1 / (0.2 * 8)
    close(p.figures.burn_rate, 0.625); // (1/8) / 0.2
    close(p.burn_rate_1h, 0.0);
}

#[tokio::test]
async fn the_burn_rate_rule_ignores_a_blip_opens_on_burning_and_resolves_on_sqlite() {
    let (store, _dir) = sqlite().await;
    burn_rate_rule(store).await;
}

#[tokio::test]
async fn the_burn_rate_rule_ignores_a_blip_opens_on_burning_and_resolves_on_postgres() {
    if let Some(store) = postgres().await {
        burn_rate_rule(store).await;
    }
}

async fn burn_rate_rule(store: Store) {
    use ExecutionStatus::{Failed, Passed};
    let config = config(false);
    let evaluator = AlertEvaluator::new(store.clone(), config.clone(), Arc::new(Notify::new()));
    let fp = "checkout-fast-burn/checkout/production";
    let now = Timestamp::now();
    // A quiet hour: 100 passing runs from 59 to 6 minutes ago.
    let quiet: Vec<ExecutionRecord> = (0..100)
        .map(|i| {
            run(
                "production",
                Passed,
                now.minus(TimeDelta::seconds(360 + i * 31)),
                100,
            )
        })
        .collect();
    store.record_executions(&quiet).await.unwrap();
    // A blip: one failure now. The last 5 minutes burn at 100x, the hour at 1/101 bad,
    // about 0.99x: below 14.4x, no page.
    let blip = run("production", Failed, now.minus(TimeDelta::seconds(5)), 100);
    store
        .record_executions(std::slice::from_ref(&blip))
        .await
        .unwrap();
    evaluator.on_execution(&blip.execution).await.unwrap();
    assert!(
        store.open_alert(fp).await.unwrap().is_none(),
        "a blip pages nobody"
    );

    // Burning: 19 more failures within the last 5 minutes. The hour: 20 of 120 bad, 16.7x;
    // the last 5 minutes: 20 of 20, 100x. Both above 14.4x: the alert opens.
    let burst: Vec<ExecutionRecord> = (0..19)
        .map(|i| {
            run(
                "production",
                Failed,
                now.minus(TimeDelta::seconds(10 + i * 10)),
                100,
            )
        })
        .collect();
    store.record_executions(&burst).await.unwrap();
    evaluator.on_execution(&burst[0].execution).await.unwrap();
    let alert = store
        .open_alert(fp)
        .await
        .unwrap()
        .expect("the budget burns");
    assert_eq!(alert.status, AlertStatus::Active);
    assert_eq!(alert.severity, AlertSeverity::Critical);
    assert!(
        alert.message.contains("checkout-strict"),
        "{}",
        alert.message
    );
    assert!(alert.message.contains("20 of 120"), "{}", alert.message);
    // Its notification went to the outbox like any other alert's.
    let logs = store.recent_notifications(None, None, 10).await.unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].alert_id.as_deref(), Some(alert.alert_id.as_str()));
    assert_eq!(logs[0].notification_type, NotificationType::Alert);
    // Staging has no runs: nothing there.
    assert!(
        store
            .open_alert("checkout-fast-burn/checkout/staging")
            .await
            .unwrap()
            .is_none()
    );

    // Still burning a minute later: the timer keeps the alert open.
    evaluator
        .tick(Timestamp::now().plus(TimeDelta::minutes(1)))
        .await
        .unwrap();
    assert!(
        store.open_alert(fp).await.unwrap().is_some(),
        "still burning"
    );
    // Ten minutes later the last 5 minutes hold no run: no longer burning, resolved by the
    // timer without a new run.
    evaluator
        .tick(Timestamp::now().plus(TimeDelta::minutes(10)))
        .await
        .unwrap();
    assert!(store.open_alert(fp).await.unwrap().is_none(), "resolved");
    let resolved = store.get::<Alert>(&alert.alert_id).await.unwrap().unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some(AUTO_RESOLVER));
}
