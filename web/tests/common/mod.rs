//! Shared set-up of the API tests: a fresh SQLite file or PostgreSQL schema per test (as in
//! `store/tests/common`), the real router served on 127.0.0.1:0 over that store with a
//! trigger and a results writer, a small configuration, and row builders.
#![allow(dead_code)]

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use wfmon_engine::config::Config;
use wfmon_engine::events::EventBus;
use wfmon_engine::scheduler::schedule_specs;
use wfmon_engine::trigger::Trigger;
use wfmon_engine::writer::ResultWriter;
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store};
use wfmon_web::{AppState, AuthSettings, SchedulerHeartbeat};

/// The secret value the configuration reads from the environment; no answer may hold it.
pub const SECRET: &str = "sup3r-s3cret-t0ken";

/// The configuration of every test: a command workflow that passes at once, one that
/// fails, and one whose URL and header hold the secret.
pub fn config() -> Config {
    static SET: Once = Once::new();
    // SAFETY: set once, before any thread of the tests reads it.
    SET.call_once(|| unsafe { std::env::set_var("WFMON_WEB_TEST_SECRET", SECRET) });
    let text = r#"
environments:
  production: {variables: {base_url: "http://127.0.0.1:9"}}
  staging: {variables: {base_url: "http://127.0.0.1:9"}}
workflows:
  - name: quick
    description: passes at once
    schedule: "*/5 * * * *"
    tags: [smoke]
    steps:
      - name: truth
        command: {run: ["true"]}
  - name: broken
    schedule: "0 * * * *"
    environments: [production]
    steps:
      - name: falsehood
        command: {run: ["false"]}
  - name: secretive
    environments: [production]
    variables: {api_key: "${WFMON_WEB_TEST_SECRET}"}
    steps:
      - name: call
        http:
          url: "{{ base_url }}/api?key=${WFMON_WEB_TEST_SECRET}"
          headers: {Authorization: "Bearer ${WFMON_WEB_TEST_SECRET}"}
        assert: ["status == 200"]
slos:
  - name: quick-availability
    description: quick passes
    workflow: quick
    objective: {success: 99%}
    window: 1d
  - name: quick-latency
    workflow: quick
    environment: production
    objective: {latency: {under: 500ms, target: 90%}}
    window: 6h
"#;
    Config::parse(text, std::path::Path::new("web-test.yaml")).expect("test configuration")
}

/// The PostgreSQL database the tests use (each test gets its own schema in it).
pub fn postgres_base_url() -> String {
    std::env::var("WFMON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned())
}

/// A URL whose connections use a new, empty schema of the test database. `None` (and a note
/// on stderr) when PostgreSQL is unreachable outside CI; inside CI (`CI` set) that panics.
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

async fn create_database(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
    let name = options.get_database().unwrap_or("wfmon_test").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await;
    admin.close().await.ok();
    options.connect().await
}

/// The API served over a fresh database.
pub struct TestApi {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The store under the API.
    pub store: Store,
    /// The state the router serves.
    pub state: AppState,
    /// The scheduler heartbeat readiness checks.
    pub heartbeat: SchedulerHeartbeat,
    /// The results writer of triggered runs.
    pub writer: ResultWriter,
    /// A client.
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApi {
    /// On a fresh SQLite file.
    pub async fn sqlite() -> TestApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("wfmon.db").display()
        ))
        .unwrap();
        TestApi::start(url, Some(dir), AuthSettings::off()).await
    }

    /// On a fresh PostgreSQL schema, or None when PostgreSQL is unreachable outside CI.
    pub async fn postgres() -> Option<TestApi> {
        let url = postgres_url().await?;
        Some(TestApi::start(url, None, AuthSettings::off()).await)
    }

    /// On a fresh SQLite file, guarded by `auth`.
    pub async fn sqlite_with_auth(auth: AuthSettings) -> TestApi {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("wfmon.db").display()
        ))
        .unwrap();
        TestApi::start(url, Some(dir), auth).await
    }

    /// On a fresh PostgreSQL schema, guarded by `auth`; None when PostgreSQL is unreachable
    /// outside CI.
    pub async fn postgres_with_auth(auth: AuthSettings) -> Option<TestApi> {
        let url = postgres_url().await?;
        Some(TestApi::start(url, None, auth).await)
    }

    async fn start(
        url: DatabaseUrl,
        dir: Option<tempfile::TempDir>,
        auth: AuthSettings,
    ) -> TestApi {
        let store = Store::open(&url, OpenMode::Create)
            .await
            .expect("open store");
        let config = Arc::new(config());
        store
            .sync_schedules(&schedule_specs(&config, chrono::Utc::now()))
            .await
            .expect("sync schedules");
        let events = EventBus::new();
        let (writer, _task) = ResultWriter::start(store.clone(), 1000);
        let trigger = Trigger::new(
            config.clone(),
            writer.clone(),
            events.clone(),
            "web-test".into(),
        );
        let heartbeat = SchedulerHeartbeat::new(Duration::from_secs(10));
        heartbeat.beat();
        let state = AppState::new(store.clone(), config, events)
            .with_trigger(trigger)
            .with_heartbeat(heartbeat.clone())
            .with_auth(auth);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(wfmon_web::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestApi {
            base,
            store,
            state,
            heartbeat,
            writer,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path`: status and JSON body (Null when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        read(response).await
    }

    /// POST `path` with a JSON body (or none).
    pub async fn post(&self, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let mut request = self.client.post(self.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        read(request.send().await.unwrap()).await
    }

    /// Sends the stop signal and waits for `serve` to return.
    pub async fn shutdown(&mut self) -> Duration {
        let started = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        started.elapsed()
    }
}

/// Status and JSON body of a response.
pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Declares each listed `async fn name(api: TestApi)` as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestApi::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(api) = $crate::common::TestApi::postgres().await {
                        super::$name(api).await;
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

/// A finished execution.
pub fn execution(
    workflow: &str,
    environment: &str,
    status: ExecutionStatus,
    started_at: Timestamp,
    duration_ms: Option<i32>,
) -> WorkflowExecution {
    let now = Timestamp::now();
    WorkflowExecution {
        id: new_id("exe"),
        run_id: new_id("run"),
        workflow_name: workflow.to_owned(),
        status,
        started_at,
        completed_at: duration_ms
            .map(|d| started_at.plus(chrono::TimeDelta::milliseconds(d.into()))),
        duration_ms,
        tests_passed: 1,
        tests_failed: i32::from(status == ExecutionStatus::Failed),
        tests_total: 1 + i32::from(status == ExecutionStatus::Failed),
        error_message: (status == ExecutionStatus::Failed)
            .then(|| "expected status 200, got 500".to_owned()),
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: environment.to_owned(),
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

/// A step result of an execution.
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

/// A health check of an execution (or none), of `endpoint`, at `checked_at`.
pub fn health_check(
    execution: Option<&WorkflowExecution>,
    endpoint: &str,
    status: HealthStatus,
    checked_at: Timestamp,
) -> SystemHealthCheck {
    SystemHealthCheck {
        id: new_id("hc"),
        check_id: new_id("chk"),
        check_name: "api-health".to_owned(),
        status,
        response_time_ms: 12,
        details: None,
        checked_at,
        endpoint: Some(endpoint.to_owned()),
        expected_status: Some(200),
        actual_status: Some(200),
        error_message: None,
        metadata: None,
        execution_id: execution.map(|e| e.run_id.clone()),
        created_at: Timestamp::now(),
    }
}

/// An alert of `workflow` in production (built from JSON, so columns added later default).
pub fn alert(workflow: &str, status: AlertStatus) -> Alert {
    let now = Timestamp::now();
    serde_json::from_value(serde_json::json!({
        "id": new_id("alr"),
        "alertId": new_id("alert"),
        "ruleId": "failures",
        "workflowName": workflow,
        "environment": "production",
        "severity": "CRITICAL",
        "status": status.as_str(),
        "fingerprint": new_id("fp"),
        "message": format!("{workflow} failed"),
        "triggeredAt": now,
        "lastTriggeredAt": now,
        "occurrences": 1,
        "createdAt": now,
        "updatedAt": now,
    }))
    .expect("an alert")
}
