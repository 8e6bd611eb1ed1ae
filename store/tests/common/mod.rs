//! Shared set-up of the store's integration tests: a fresh SQLite file or a fresh PostgreSQL
//! schema per test, a macro that runs one test body on both backends, and row builders.
#![allow(dead_code)]

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

pub mod rollups;

/// The PostgreSQL database the tests use (each test gets its own schema in it).
pub fn postgres_base_url() -> String {
    std::env::var("WFMON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned())
}

/// A URL for a new SQLite file in a new temporary directory.
pub fn sqlite_url() -> (DatabaseUrl, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("wfmon.db").display()
    ))
    .unwrap();
    (url, dir)
}

/// A URL whose connections use a new, empty schema of the test database. `None` (and a note
/// on stderr) when PostgreSQL is unreachable outside CI; inside CI (`CI` set) that panics, so
/// the PostgreSQL suite can never be skipped silently there.
pub async fn postgres_url() -> Option<DatabaseUrl> {
    let base = postgres_base_url();
    let options = PgConnectOptions::from_str(&base).expect("WFMON_TEST_POSTGRES_URL");
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(first) => match create_database(&options).await {
            Ok(conn) => conn,
            Err(_) if std::env::var_os("CI").is_none() => {
                eprintln!("skipping PostgreSQL test: cannot connect to {base}: {first}");
                return None;
            }
            Err(e) => panic!("CI is set but PostgreSQL at {base} is unreachable: {first}; {e}"),
        },
    };
    let schema = format!("t_{}", new_id("s").trim_start_matches("s_"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    conn.close().await.ok();
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(
        DatabaseUrl::parse(&format!(
            "{base}{separator}options=-c%20search_path%3D{schema}"
        ))
        .unwrap(),
    )
}

/// Creates the test database through the `postgres` maintenance database.
async fn create_database(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
    let name = options.get_database().unwrap_or("wfmon_test").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await;
    admin.close().await.ok();
    options.connect().await
}

/// A migrated store on a fresh database, with its URL for tests that must reach around the
/// store (to break the schema, say).
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Its URL.
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite database.
    pub async fn sqlite() -> TestDb {
        let (url, dir) = sqlite_url();
        let store = Store::open(&url, OpenMode::Create)
            .await
            .expect("open sqlite");
        TestDb {
            store,
            url,
            _dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL schema, or `None` when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        let url = postgres_url().await?;
        let store = Store::open(&url, OpenMode::Create)
            .await
            .expect("open postgres");
        Some(TestDb {
            store,
            url,
            _dir: None,
        })
    }

    /// A fresh database of the same backend as `like`, connected but not migrated (`None`
    /// when PostgreSQL is unreachable outside CI).
    pub async fn unmigrated(like: wfmon_store::Backend) -> Option<TestDb> {
        let (url, dir) = match like {
            wfmon_store::Backend::Sqlite => {
                let (url, dir) = sqlite_url();
                (url, Some(dir))
            }
            wfmon_store::Backend::Postgres => (postgres_url().await?, None),
        };
        let store = Store::connect(&url, OpenMode::Create)
            .await
            .expect("connect");
        Some(TestDb {
            store,
            url,
            _dir: dir,
        })
    }

    /// The first column of every row a query returns, as text, run outside the store.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.store.backend() {
            wfmon_store::Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.url.as_str())
                    .await
                    .unwrap();
                sqlx::query_scalar::<_, String>(sql)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }
            wfmon_store::Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.url.as_str())
                    .await
                    .unwrap();
                sqlx::query_scalar::<_, String>(sql)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    /// Runs SQL directly, outside the store.
    pub async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self.store.backend() {
            wfmon_store::Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.url.as_str()).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            }
            wfmon_store::Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.url.as_str()).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            }
        }
    }
}

/// Declares each listed `async fn name(db: TestDb)` as two tests, `sqlite::name` and
/// `postgres::name`, so both backends pass the same test bodies.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// A timestamp `minutes` before now.
pub fn minutes_ago(minutes: i64) -> Timestamp {
    Timestamp::now().minus(chrono::TimeDelta::minutes(minutes))
}

/// A finished execution of `workflow` in production.
pub fn execution(
    workflow: &str,
    status: ExecutionStatus,
    started_at: Timestamp,
    duration_ms: i32,
) -> WorkflowExecution {
    let now = Timestamp::now();
    WorkflowExecution {
        id: new_id("exe"),
        run_id: new_id("run"),
        workflow_name: workflow.to_owned(),
        status,
        started_at,
        completed_at: Some(started_at.plus(chrono::TimeDelta::milliseconds(duration_ms.into()))),
        duration_ms: Some(duration_ms),
        tests_passed: 2,
        tests_failed: if status == ExecutionStatus::Failed {
            1
        } else {
            0
        },
        tests_total: if status == ExecutionStatus::Failed {
            3
        } else {
            2
        },
        error_message: (status == ExecutionStatus::Failed)
            .then(|| "expected status 200, got 500".to_owned()),
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: "production".to_owned(),
        metadata: None,
        report_id: None,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: Some("test".to_owned()),
        created_at: now,
        updated_at: now,
    }
}

/// A passed step of an execution.
pub fn step(execution: &WorkflowExecution, order: i32) -> WorkflowStepResult {
    WorkflowStepResult {
        id: new_id("stp"),
        step_result_id: new_id("step"),
        execution_id: execution.run_id.clone(),
        step_name: format!("step-{order}"),
        step_order: order,
        step_kind: "http".to_owned(),
        status: StepStatus::Passed,
        started_at: execution.started_at,
        duration_ms: 40 + order,
        assertions_passed: 1,
        assertions_failed: 0,
        failed_assertion: None,
        assertions: Some(json(serde_json::json!([
            {"expression": "status == 200", "passed": true, "expected": "200", "actual": "200"}
        ]))),
        captured: Some(json(serde_json::json!(["token"]))),
        error_message: None,
        created_at: Timestamp::now(),
    }
}

/// A metric of an execution.
pub fn metric(
    execution: &WorkflowExecution,
    name: &str,
    value: f64,
    threshold: Option<f64>,
) -> WorkflowMetric {
    WorkflowMetric {
        id: new_id("met"),
        workflow_id: execution.workflow_name.clone(),
        metric_name: name.to_owned(),
        metric_value: value,
        metric_unit: Some("ms".to_owned()),
        threshold_value: threshold,
        is_within_threshold: threshold.is_none_or(|t| value <= t),
        recorded_at: execution.started_at,
        tags: Some(json(
            serde_json::json!({"environment": execution.environment}),
        )),
        metadata: None,
        execution_id: Some(execution.run_id.clone()),
        created_at: Timestamp::now(),
    }
}

/// A health check of an execution.
pub fn health_check(execution: &WorkflowExecution, status: HealthStatus) -> SystemHealthCheck {
    SystemHealthCheck {
        id: new_id("hc"),
        check_id: new_id("chk"),
        check_name: "api-health".to_owned(),
        status,
        response_time_ms: 12,
        details: Some(json(serde_json::json!({"database": "up"}))),
        checked_at: execution.started_at,
        endpoint: Some("http://127.0.0.1:3000/api/health".to_owned()),
        expected_status: Some(200),
        actual_status: Some(if status == HealthStatus::Unhealthy {
            503
        } else {
            200
        }),
        error_message: None,
        metadata: None,
        execution_id: Some(execution.run_id.clone()),
        created_at: Timestamp::now(),
    }
}

/// A sent Slack notification about an execution.
pub fn notification(execution: &WorkflowExecution) -> NotificationLog {
    NotificationLog {
        id: new_id("ntf"),
        log_id: new_id("log"),
        channel: NotificationChannel::Slack,
        notification_type: NotificationType::Alert,
        status: NotificationStatus::Sent,
        message: format!("{} failed", execution.workflow_name),
        recipient: Some("#ops".to_owned()),
        subject: None,
        sent_at: Timestamp::now(),
        delivery_status: Some(DeliveryStatus::Delivered),
        error_message: None,
        retry_count: 0,
        metadata: None,
        execution_id: Some(execution.run_id.clone()),
        report_id: None,
        alert_id: None,
        channel_name: None,
        next_attempt_at: None,
        claimed_by: None,
        claimed_until: None,
        created_at: Timestamp::now(),
    }
}

/// A completed daily report over the last day.
pub fn report() -> MonitoringReport {
    let now = Timestamp::now();
    MonitoringReport {
        id: new_id("rep"),
        report_id: new_id("report"),
        start_time: now.minus(chrono::TimeDelta::days(1)),
        end_time: now,
        total_runs: 4,
        successful_runs: 3,
        failed_runs: 1,
        total_duration_ms: 400,
        avg_duration_ms: 100.0,
        success_rate: 0.75,
        status: ReportStatus::Completed,
        report_type: ReportType::Daily,
        generated_at: now,
        notified: false,
        notified_at: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}
