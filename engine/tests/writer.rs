//! The daemon's results writer against real databases: results queued while PostgreSQL
//! refuses connections are all written once it accepts them again; beyond the buffer's
//! bound, results are refused and counted, never dropped silently.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use wfmon_engine::writer::{ResultWriter, WriteJob};
use wfmon_model::{ExecutionStatus, Timestamp, TriggeredBy, WorkflowExecution, new_id};
use wfmon_store::{DatabaseUrl, ExecutionRecord, OpenMode, Store};

fn finished(workflow: &str) -> WriteJob {
    let now = Timestamp::now();
    let execution = WorkflowExecution {
        id: new_id("exe"),
        run_id: new_id("run"),
        workflow_name: workflow.into(),
        status: ExecutionStatus::Passed,
        started_at: now,
        completed_at: Some(now),
        duration_ms: Some(1),
        tests_passed: 1,
        tests_failed: 0,
        tests_total: 1,
        error_message: None,
        error_stack: None,
        triggered_by: TriggeredBy::Scheduled,
        environment: "prod".into(),
        metadata: None,
        report_id: None,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: Some("test".into()),
        created_at: now,
        updated_at: now,
    };
    WriteJob::Finished(
        Box::new(ExecutionRecord {
            execution,
            steps: Vec::new(),
            metrics: Vec::new(),
            health_checks: Vec::new(),
        }),
        None,
    )
}

fn started(job: &WriteJob) -> WriteJob {
    let WriteJob::Finished(record, _) = job else {
        unreachable!("a finished job")
    };
    let mut row = record.execution.clone();
    row.id = new_id("exe");
    row.status = ExecutionStatus::Running;
    row.completed_at = None;
    row.duration_ms = None;
    WriteJob::Started(Box::new(row))
}

fn run_id(job: &WriteJob) -> String {
    match job {
        WriteJob::Started(e) => e.run_id.clone(),
        WriteJob::Finished(r, _) => r.execution.run_id.clone(),
    }
}

fn row_id(job: &WriteJob) -> String {
    match job {
        WriteJob::Started(e) => e.id.clone(),
        WriteJob::Finished(r, _) => r.execution.id.clone(),
    }
}

#[tokio::test]
async fn a_run_started_and_finished_in_one_batch_is_written_once_completed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let (writer, task) = ResultWriter::start(store.clone(), 100);

    // Queued before the writer task runs (this test's runtime has one thread): one batch.
    let done = finished("both");
    let still_running = finished("running");
    writer.send(started(&done));
    writer.send(started(&still_running));
    writer.send(done.clone());
    writer.flush().await;
    assert_eq!(
        writer.stats().written,
        1,
        "results are counted, not RUNNING rows"
    );

    let row = store
        .get::<WorkflowExecution>(&run_id(&done))
        .await
        .unwrap()
        .expect("the finished run is stored");
    assert_eq!(row.status, ExecutionStatus::Passed);
    assert_eq!(
        row.id,
        row_id(&done),
        "only the completed row was written (an upsert over the RUNNING row would keep its id)"
    );
    let running = store
        .get::<WorkflowExecution>(&run_id(&still_running))
        .await
        .unwrap()
        .expect("a run still running keeps its RUNNING row");
    assert_eq!(running.status, ExecutionStatus::Running);

    // Started in one batch, finished in a later one: the RUNNING row is completed in place.
    let later = finished("later");
    let later_start = started(&later);
    writer.send(later_start.clone());
    writer.flush().await;
    let row = store
        .get::<WorkflowExecution>(&run_id(&later))
        .await
        .unwrap();
    assert_eq!(row.map(|r| r.status), Some(ExecutionStatus::Running));
    writer.send(later.clone());
    writer.send(still_running.clone());
    writer.flush().await;
    let row = store
        .get::<WorkflowExecution>(&run_id(&later))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.id),
        (ExecutionStatus::Passed, row_id(&later_start))
    );
    assert_eq!(writer.stats().written, 3);
    assert_eq!(writer.close(Duration::from_secs(1)).await, 0);
    task.await.unwrap();

    // Each run is counted once in its rollups (minute, hour and day rows).
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT workflow_name, SUM(runs) FROM workflow_rollups \
         GROUP BY workflow_name ORDER BY workflow_name",
    )
    .fetch_all(
        &mut sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        runs,
        [
            ("both".to_owned(), 3),
            ("later".to_owned(), 3),
            ("running".to_owned(), 3)
        ]
    );
    store.close().await;
}

#[tokio::test]
async fn beyond_the_bound_results_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    // A closed pool fails every write as out of reach: results wait in the buffer.
    store.close().await;
    let (writer, _task) = ResultWriter::start(store, 3);
    let accepted: Vec<bool> = (0..5).map(|_| writer.send(finished("w"))).collect();
    assert_eq!(accepted, [true, true, true, false, false]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.pending, stats.overflowed),
        (0, 3, 2),
        "{stats:?}"
    );
    assert_eq!(
        writer.close(Duration::from_millis(300)).await,
        3,
        "left unwritten"
    );
}

#[tokio::test]
async fn results_queued_during_an_outage_are_written_when_the_database_returns() {
    let base = std::env::var("WFMON_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned());
    let options = PgConnectOptions::from_str(&base).unwrap();
    let mut admin = match options.clone().database("postgres").connect().await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping PostgreSQL test: {e}");
            return;
        }
        Err(e) => panic!("CI is set but PostgreSQL is unreachable: {e}"),
    };
    let name = format!("wfmon_outage_{}", new_id("d").trim_start_matches("d_"));
    let exec = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    exec(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = DatabaseUrl::parse(&format!(
        "postgres://{}@{}:{}/{name}",
        options.get_username(),
        options.get_host(),
        options.get_port()
    ))
    .unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let (writer, task) = ResultWriter::start(store.clone(), 1000);
    for _ in 0..10 {
        writer.send(finished("before"));
    }
    writer.flush().await;
    assert_eq!(writer.stats().written, 10);

    // Outage: no new connections, and the open ones are cut.
    exec(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    exec(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    for _ in 0..25 {
        assert!(writer.send(finished("during")));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = writer.stats();
    assert_eq!(
        stats.written, 10,
        "nothing can be written during the outage"
    );
    assert_eq!(stats.pending, 25);

    exec(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), writer.flush())
        .await
        .expect("written after the outage");
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.pending, stats.overflowed, stats.failed),
        (35, 0, 0, 0)
    );
    assert_eq!(store.count::<WorkflowExecution>().await.unwrap(), 35);
    assert_eq!(writer.close(Duration::from_secs(1)).await, 0);
    task.await.unwrap();
    store.close().await;
    exec(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
}

#[tokio::test]
async fn a_result_takes_the_place_of_its_queued_running_row_even_when_the_buffer_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let (writer, task) = ResultWriter::start(store.clone(), 2);
    // Queued before the writer task runs (one thread): the buffer is full of RUNNING rows.
    let (a, b) = (finished("a"), finished("b"));
    assert!(writer.send(started(&a)));
    assert!(writer.send(started(&b)));
    assert!(!writer.send(finished("c")), "no room for a third run");
    assert!(
        writer.send(a.clone()),
        "a's result replaces its RUNNING row"
    );
    assert!(writer.send(b.clone()));
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.pending, stats.overflowed),
        (2, 0, 1),
        "two runs written, one lost: {stats:?}"
    );
    for job in [&a, &b] {
        let row = store
            .get::<WorkflowExecution>(&run_id(job))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, ExecutionStatus::Passed);
    }
    assert_eq!(store.count::<WorkflowExecution>().await.unwrap(), 2);
    assert_eq!(writer.close(Duration::from_secs(1)).await, 0);
    task.await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_run_whose_result_is_refused_after_its_running_row_was_written_is_closed_as_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let (writer, task) = ResultWriter::start(store.clone(), 2);
    let lost = finished("lost");
    writer.send(started(&lost));
    writer.flush().await;
    let row = store
        .get::<WorkflowExecution>(&run_id(&lost))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, ExecutionStatus::Running);

    // Queued before the writer task runs again (one thread): the buffer is full when the
    // run's result comes.
    assert!(writer.send(finished("other")));
    assert!(writer.send(finished("other")));
    assert!(!writer.send(lost.clone()), "refused: the buffer is full");
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.pending, stats.overflowed, stats.failed),
        (2, 0, 1, 0),
        "{stats:?}"
    );
    let row = store
        .get::<WorkflowExecution>(&run_id(&lost))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.status,
        ExecutionStatus::Aborted,
        "never left RUNNING: {row:?}"
    );
    let reason = row.error_message.unwrap_or_default();
    assert!(
        reason.contains("ended PASSED") && reason.contains("result was lost"),
        "{reason}"
    );
    assert_eq!(writer.close(Duration::from_secs(1)).await, 0);
    task.await.unwrap();
    store.close().await;
}
