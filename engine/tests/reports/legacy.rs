//! A report over an adopted database: rows the TypeScript bot wrote (legacy status
//! spellings, a missing duration, metadata that is not an object, a run already in a legacy
//! report), migrated by `wfmon db migrate`, read with the same exact figures. PostgreSQL
//! only: the bot never ran on SQLite.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use wfmon_engine::reports;
use wfmon_model::MonitoringReport;
use wfmon_store::{OpenMode, SavedReport, Store};

use crate::db::postgres_schema_url;
use crate::figures::{request, window};

const LEGACY_LAYOUT: &str = include_str!("../../../store/tests/fixtures/legacy_prisma.sql");

/// Window [10:00, 11:00): SUCCESS 100, failure 300, passed (no duration), success 200,
/// ERROR 400; so 5 runs, 3 passed, durations 100 200 300 400: sum 1000, mean 250,
/// p50 250, p95 385. One run before the window (FAILED). The ERROR run is in a legacy report.
const LEGACY_ROWS: &str = r#"
INSERT INTO monitoring_reports (id, report_id, start_time, end_time, success_rate, updated_at)
VALUES ('ckrep1', 'legacy-report-1', '2026-03-01 00:00:00', '2026-03-02 00:00:00', 87.5, now());
INSERT INTO workflow_executions
  (id, run_id, workflow_name, status, started_at, duration_ms, environment, metadata, report_id, updated_at)
VALUES
  ('ck1', 'run_1772359260000_a', 'checkout', 'SUCCESS', '2026-03-01 10:01:00', 100, 'production', NULL, NULL, now()),
  ('ck2', 'run_1772359320000_b', 'checkout', 'failure', '2026-03-01 10:02:00', 300, 'production', '[1, 2]', NULL, now()),
  ('ck3', 'run_1772359380000_c', 'checkout', 'passed', '2026-03-01 10:03:00', NULL, 'production', '{"browser": "chrome"}', NULL, now()),
  ('ck4', 'run_1772359440000_d', 'login', 'success', '2026-03-01 10:04:00', 200, 'production', '"text"', NULL, now()),
  ('ck5', 'run_1772359500000_e', 'login', 'ERROR', '2026-03-01 10:05:00', 400, 'production', NULL, 'legacy-report-1', now()),
  ('ck6', 'run_1772355000000_f', 'login', 'FAILED', '2026-03-01 09:50:00', 700, 'production', NULL, NULL, now());
"#;

#[tokio::test]
async fn a_report_over_an_adopted_legacy_database_reads_every_legacy_row() {
    let Some(url) = postgres_schema_url().await else {
        return;
    };
    let mut conn = PgConnection::connect(url.as_str()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("{LEGACY_LAYOUT}\n{LEGACY_ROWS}")))
        .execute(&mut conn)
        .await
        .expect("build the legacy database");
    conn.close().await.unwrap();
    Store::connect(&url, OpenMode::Existing)
        .await
        .unwrap()
        .migrate()
        .await
        .expect("adopt the legacy database");
    let store = Store::open(&url, OpenMode::Existing).await.unwrap();

    let report = reports::compute(&store, &request(window())).await.unwrap();
    let row = &report.row;
    assert_eq!(
        (row.total_runs, row.successful_runs, row.failed_runs),
        (5, 3, 2)
    );
    assert_eq!(row.total_duration_ms, 1000);
    assert_eq!(row.avg_duration_ms, 250.0);
    assert_eq!(row.success_rate, 0.6);
    let m = &report.metadata;
    assert_eq!(m.p50_duration_ms, Some(250.0));
    assert!((m.p95_duration_ms.unwrap() - 385.0).abs() < 1e-9);
    assert_eq!(m.flaky_runs, 0);
    assert_eq!((m.previous.runs, m.previous.failed), (1, 1));
    let names: Vec<(&str, i64)> = m
        .workflows
        .iter()
        .map(|g| (g.name.as_str(), g.runs))
        .collect();
    assert_eq!(names, [("checkout", 3), ("login", 2)]);

    // The run already in the legacy report stays there.
    let saved = reports::save(&store, &report, &window(), &[])
        .await
        .unwrap();
    assert_eq!(saved, SavedReport::Created { linked: 4 });
    assert_eq!(
        store
            .count_report_executions("legacy-report-1")
            .await
            .unwrap(),
        1
    );
    let legacy = store
        .get::<MonitoringReport>("legacy-report-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        legacy.success_rate, 0.875,
        "legacy percentages read as ratios"
    );
}
