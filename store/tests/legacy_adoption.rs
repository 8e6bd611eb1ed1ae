//! Adoption of a PostgreSQL database that the TypeScript bot created with Prisma
//! (DATA_MODEL.md, "Adopts an existing database"): `wfmon db migrate` upgrades it in place,
//! every legacy row stays and reads back through the store with normalised values, the result
//! is exactly the schema a fresh database gets, and migrating again changes nothing.
//!
//! PostgreSQL only: the bot never ran on SQLite. Each test builds its own legacy database on a
//! fresh schema, so a failure in one property does not hide the others.

mod common;

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use serde_json::{Map, Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use wfmon_model::{
    Alert, AlertSeverity, AlertStatus, DeliveryStatus, ExecutionStatus, HealthStatus, Json,
    MonitoringReport, NotificationChannel, NotificationLog, NotificationStatus, NotificationType,
    ReportStatus, ReportType, SystemHealthCheck, Timestamp, TriggeredBy, WorkflowExecution,
    WorkflowMetric, WorkflowRollup, WorkflowSchedule, WorkflowStepResult, new_id,
};
use wfmon_store::{DatabaseUrl, ExecutionFilter, OpenMode, SchemaProblem, Store, StoreError};

/// The bot's Prisma migration, plus the bookkeeping table Prisma Migrate adds.
const LEGACY_LAYOUT: &str = include_str!("fixtures/legacy_prisma.sql");

/// The migration that normalises the legacy values (read for the spellings it knows).
const WFMON_LAYOUT: &str = include_str!("../migrations/postgres/0002_wfmon_layout.sql");

/// Tables that belong to another tool; wfmon must leave them alone and they are not part of
/// wfmon's schema when comparing an adopted database with a fresh one.
const FOREIGN_TABLES: &[&str] = &["_prisma_migrations"];

/// Every `TIMESTAMP(3)` column of the legacy layout (all of them become `TIMESTAMPTZ(3)`).
const LEGACY_TIMESTAMPS: &[(&str, &str)] = &[
    ("monitoring_reports", "start_time"),
    ("monitoring_reports", "end_time"),
    ("monitoring_reports", "generated_at"),
    ("monitoring_reports", "notified_at"),
    ("monitoring_reports", "created_at"),
    ("monitoring_reports", "updated_at"),
    ("workflow_executions", "started_at"),
    ("workflow_executions", "completed_at"),
    ("workflow_executions", "created_at"),
    ("workflow_executions", "updated_at"),
    ("workflow_metrics", "recorded_at"),
    ("workflow_metrics", "created_at"),
    ("system_health_checks", "checked_at"),
    ("system_health_checks", "created_at"),
    ("notification_logs", "sent_at"),
    ("notification_logs", "created_at"),
    ("workflow_schedules", "last_run_at"),
    ("workflow_schedules", "next_run_at"),
    ("workflow_schedules", "created_at"),
    ("workflow_schedules", "updated_at"),
];

/// Every free-text status or type column of the legacy layout (each becomes a closed set).
const LEGACY_VALUE_COLUMNS: &[(&str, &str)] = &[
    ("monitoring_reports", "status"),
    ("monitoring_reports", "report_type"),
    ("workflow_executions", "status"),
    ("workflow_executions", "triggered_by"),
    ("system_health_checks", "status"),
    ("notification_logs", "channel"),
    ("notification_logs", "notification_type"),
    ("notification_logs", "status"),
    ("notification_logs", "delivery_status"),
];

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn check_names_what_the_legacy_layout_lacks_and_open_refuses_it() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    let store = Store::connect(&legacy.url, OpenMode::Existing)
        .await
        .expect("connect");

    let report = store.check_schema().await.expect("check schema");
    assert!(!report.is_ok(), "{report}");
    assert_eq!(report.version, None);
    let problems = &report.problems;
    assert!(problems.contains(&SchemaProblem::NotManaged), "{report}");
    for (table, column) in LEGACY_TIMESTAMPS {
        let expected = SchemaProblem::WrongType {
            table,
            column,
            expected: "timestamp with time zone".into(),
            found: "timestamp without time zone".into(),
        };
        assert!(
            problems.contains(&expected),
            "{expected} not reported in:\n{report}"
        );
    }
    let counters = SchemaProblem::WrongType {
        table: "monitoring_reports",
        column: "total_runs",
        expected: "bigint".into(),
        found: "integer".into(),
    };
    assert!(problems.contains(&counters), "{report}");
    for (table, column, expected) in [
        ("workflow_executions", "attempt", "integer NOT NULL"),
        ("workflow_executions", "instance_id", "text NULL"),
        ("notification_logs", "alert_id", "text NULL"),
        ("workflow_schedules", "timezone", "text NOT NULL"),
        (
            "workflow_schedules",
            "lease_expires_at",
            "timestamp with time zone NULL",
        ),
    ] {
        let missing = SchemaProblem::MissingColumn {
            table,
            column,
            expected: expected.into(),
        };
        assert!(
            problems.contains(&missing),
            "{missing} not reported in:\n{report}"
        );
    }
    for table in ["workflow_step_results", "alerts", "workflow_rollups"] {
        assert!(
            problems.contains(&SchemaProblem::MissingTable { table }),
            "{report}"
        );
    }
    // Everything else about the legacy layout must already fit the records: the only problems
    // are the ones the migration exists to fix.
    for problem in problems {
        let fixable = match problem {
            SchemaProblem::NotManaged
            | SchemaProblem::MissingTable { .. }
            | SchemaProblem::MissingColumn { .. } => true,
            SchemaProblem::WrongType {
                expected, found, ..
            } => matches!(
                (expected.as_str(), found.as_str()),
                ("timestamp with time zone", "timestamp without time zone") | ("bigint", "integer")
            ),
            _ => false,
        };
        assert!(
            fixable,
            "unexpected problem on the legacy layout: {problem}\n{report}"
        );
    }
    assert!(report.to_string().contains("wfmon db migrate"), "{report}");

    // The daemon refuses to start on it rather than failing later with a missing column, and
    // neither the check nor the refusal wrote anything.
    for mode in [OpenMode::Existing, OpenMode::Create] {
        match Store::open(&legacy.url, mode).await {
            Err(StoreError::Drift(drift)) => assert!(!drift.is_ok()),
            other => panic!("opening an unmigrated legacy database ({mode:?}) gave {other:?}"),
        }
    }
    assert_eq!(store.schema_version().await.expect("version"), None);
}

#[tokio::test]
async fn migrate_keeps_every_legacy_row_readable_with_normalised_values() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    let store = Store::connect(&legacy.url, OpenMode::Existing)
        .await
        .expect("connect");

    let outcome = store.migrate().await.expect("migrate the legacy database");
    assert_eq!(outcome.from, 0);
    let latest = wfmon_store::latest_version(wfmon_store::Backend::Postgres);
    assert_eq!(outcome.to, latest);
    let versions: Vec<i64> = outcome
        .applied
        .iter()
        .map(|(version, _)| *version)
        .collect();
    assert_eq!(versions, (1..=latest).collect::<Vec<_>>());
    let report = store.check_schema().await.expect("check schema");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.version, Some(latest));

    let rows = &legacy.rows;
    assert_eq!(
        store.count::<MonitoringReport>().await.unwrap(),
        rows.reports.len() as i64
    );
    assert_eq!(
        store.count::<WorkflowExecution>().await.unwrap(),
        rows.executions.len() as i64
    );
    assert_eq!(
        store.count::<WorkflowMetric>().await.unwrap(),
        rows.metrics.len() as i64
    );
    assert_eq!(
        store.count::<SystemHealthCheck>().await.unwrap(),
        rows.health_checks.len() as i64
    );
    assert_eq!(
        store.count::<NotificationLog>().await.unwrap(),
        rows.notifications.len() as i64
    );
    assert_eq!(
        store.count::<WorkflowSchedule>().await.unwrap(),
        rows.schedules.len() as i64
    );
    assert_eq!(store.count::<WorkflowStepResult>().await.unwrap(), 0);
    assert_eq!(store.count::<Alert>().await.unwrap(), 0);
    assert_eq!(store.count::<WorkflowRollup>().await.unwrap(), 0);

    assert_every_row_reads_back(&store, rows).await;

    // Read back above with its negative duration made unknown.
    assert!(
        rows.executions
            .iter()
            .any(|e| e.duration_ms.is_some_and(|ms| ms < 0))
    );

    // The legacy values DATA_MODEL.md names, read as it says (not only as the parsers say).
    for (text, status) in [
        ("PASSED", ExecutionStatus::Passed),
        ("FAILED", ExecutionStatus::Failed),
        ("WARNING", ExecutionStatus::Warning),
        ("SKIPPED", ExecutionStatus::Skipped),
        ("SUCCESS", ExecutionStatus::Passed),
        ("FAILURE", ExecutionStatus::Failed),
        ("success", ExecutionStatus::Passed),
        ("failed", ExecutionStatus::Failed),
    ] {
        let row = rows.executions.iter().find(|e| e.status == text).unwrap();
        let read = store.get::<WorkflowExecution>(&row.run_id).await.unwrap();
        assert_eq!(
            read.map(|e| e.status),
            Some(status),
            "execution status {text}"
        );
    }
    for (text, status) in [
        ("HEALTHY", HealthStatus::Healthy),
        ("UNHEALTHY", HealthStatus::Unhealthy),
        ("healthy", HealthStatus::Healthy),
    ] {
        let row = rows
            .health_checks
            .iter()
            .find(|h| h.status == text)
            .unwrap();
        let read = store.get::<SystemHealthCheck>(&row.check_id).await.unwrap();
        assert_eq!(read.map(|h| h.status), Some(status), "health status {text}");
    }
    for (text, channel) in [
        ("SLACK", NotificationChannel::Slack),
        ("DISCORD", NotificationChannel::Discord),
        ("ALL", NotificationChannel::All),
    ] {
        let row = rows
            .notifications
            .iter()
            .find(|n| n.channel == text)
            .unwrap();
        let read = store.get::<NotificationLog>(&row.log_id).await.unwrap();
        assert_eq!(read.map(|n| n.channel), Some(channel), "channel {text}");
    }
    for (text, status) in [
        ("SUCCESS", NotificationStatus::Sent),
        ("FAILED", NotificationStatus::Failed),
        ("SENT", NotificationStatus::Sent),
    ] {
        let row = rows
            .notifications
            .iter()
            .find(|n| n.status == text)
            .unwrap();
        let read = store.get::<NotificationLog>(&row.log_id).await.unwrap();
        assert_eq!(
            read.map(|n| n.status),
            Some(status),
            "notification status {text}"
        );
    }
    let delivered = rows
        .notifications
        .iter()
        .find(|n| n.delivery_status.as_deref() == Some("DELIVERED"))
        .unwrap();
    let read = store
        .get::<NotificationLog>(&delivered.log_id)
        .await
        .unwrap();
    assert_eq!(
        read.and_then(|n| n.delivery_status),
        Some(DeliveryStatus::Delivered)
    );
    let scheduled = rows
        .executions
        .iter()
        .find(|e| e.triggered_by == "SCHEDULED")
        .unwrap();
    let read = store
        .get::<WorkflowExecution>(&scheduled.run_id)
        .await
        .unwrap();
    assert_eq!(read.map(|e| e.triggered_by), Some(TriggeredBy::Scheduled));
    let weird = rows
        .executions
        .iter()
        .find(|e| e.status == "WEIRD")
        .expect("an unknown status");
    let read = store
        .get::<WorkflowExecution>(&weird.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.status, ExecutionStatus::Failed);
    let metadata = read.metadata.expect("metadata kept").0;
    assert_eq!(metadata["legacyStatus"], "WEIRD");
    assert_eq!(
        metadata["source"], "typescript-bot",
        "existing metadata must be kept"
    );
    for (case, ratio) in [
        ("percentage", 0.75),
        ("ratio", 0.5),
        ("no runs, 100 %", 1.0),
    ] {
        let row = rows.reports.iter().find(|r| r.case == case).unwrap();
        let read = store
            .get::<MonitoringReport>(&row.report_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            read.success_rate, ratio,
            "{case}: stored {}",
            row.success_rate
        );
    }
    let first = &rows.executions[0];
    let read = store
        .get::<WorkflowExecution>(&first.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.started_at.unix_millis(),
        first.started_at.and_utc().timestamp_millis()
    );
    assert_eq!(
        read.started_at.to_string(),
        first
            .started_at
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    );

    // An execution with everything the bot linked to it.
    for row in &rows.executions {
        let detail = store
            .execution_detail(&row.run_id)
            .await
            .unwrap()
            .expect("execution detail");
        let linked = |ids: Vec<&String>| ids.into_iter().cloned().collect::<BTreeSet<_>>();
        let metric_ids = linked(
            rows.metrics
                .iter()
                .filter(|m| m.execution_id.as_ref() == Some(&row.run_id))
                .map(|m| &m.id)
                .collect(),
        );
        let check_ids = linked(
            rows.health_checks
                .iter()
                .filter(|h| h.execution_id.as_ref() == Some(&row.run_id))
                .map(|h| &h.check_id)
                .collect(),
        );
        let log_ids = linked(
            rows.notifications
                .iter()
                .filter(|n| n.execution_id.as_ref() == Some(&row.run_id))
                .map(|n| &n.log_id)
                .collect(),
        );
        assert_eq!(
            detail
                .metrics
                .iter()
                .map(|m| m.id.clone())
                .collect::<BTreeSet<_>>(),
            metric_ids
        );
        assert_eq!(
            detail
                .health_checks
                .iter()
                .map(|h| h.check_id.clone())
                .collect::<BTreeSet<_>>(),
            check_ids
        );
        assert_eq!(
            detail
                .notifications
                .iter()
                .map(|n| n.log_id.clone())
                .collect::<BTreeSet<_>>(),
            log_ids
        );
        assert!(detail.steps.is_empty());
        assert_eq!(detail.report.map(|r| r.report_id), row.report_id);
    }
    let linked_runs = rows.executions.iter().filter(|e| {
        rows.metrics
            .iter()
            .any(|m| m.execution_id.as_ref() == Some(&e.run_id))
    });
    assert!(
        linked_runs.count() > 10,
        "the fixture must link metrics to executions"
    );

    // Lists: all of them newest first, and each status filter finds exactly its rows.
    let all = store
        .list_executions(&ExecutionFilter {
            limit: Some(10_000),
            ..ExecutionFilter::default()
        })
        .await
        .unwrap();
    let mut newest_first: Vec<&LegacyExecution> = rows.executions.iter().collect();
    newest_first.sort_by(|a, b| (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)));
    assert_eq!(
        all.iter().map(|e| e.run_id.as_str()).collect::<Vec<_>>(),
        newest_first
            .iter()
            .map(|e| e.run_id.as_str())
            .collect::<Vec<_>>()
    );
    for status in ExecutionStatus::ALL {
        let filter = ExecutionFilter {
            status: Some(*status),
            limit: Some(10_000),
            ..ExecutionFilter::default()
        };
        let listed = store.list_executions(&filter).await.unwrap();
        let expected = rows
            .executions
            .iter()
            .filter(|e| e.expected().status == *status)
            .count();
        assert!(
            expected > 0,
            "the fixture has no execution that reads as {status}"
        );
        assert_eq!(listed.len(), expected, "executions listed as {status}");
    }

    // Prisma's bookkeeping is another tool's table: kept as it was.
    let (migrations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _prisma_migrations")
        .fetch_one(&mut legacy.connect().await)
        .await
        .unwrap();
    assert_eq!(migrations, 1);
}

#[tokio::test]
async fn second_migrate_applies_nothing_and_changes_nothing() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    let store = legacy.migrated_store().await;
    let mut conn = legacy.connect().await;
    let rows_before = table_digests(&mut conn).await;
    let schema_before = SchemaSnapshot::take(&mut conn).await;
    assert!(
        rows_before
            .iter()
            .any(|(table, rows, _)| table == "workflow_executions" && *rows > 0)
    );

    let outcome = store.migrate().await.expect("second migrate");
    assert!(outcome.applied.is_empty(), "{outcome:?}");
    let latest = wfmon_store::latest_version(wfmon_store::Backend::Postgres);
    assert_eq!((outcome.from, outcome.to), (latest, latest));

    assert_eq!(table_digests(&mut conn).await, rows_before);
    SchemaSnapshot::take(&mut conn).await.assert_same(
        "after a second migrate",
        &schema_before,
        "before it",
    );
    let report = store.check_schema().await.unwrap();
    assert!(report.is_ok(), "{report}");
    let run = &legacy.rows.executions[1];
    let read = store.get::<WorkflowExecution>(&run.run_id).await.unwrap();
    assert_eq!(read, Some(run.expected()));
}

#[tokio::test]
async fn adopted_schema_has_indexed_keys_no_duplicates_and_enforced_value_sets() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    let store = legacy.migrated_store().await;
    let mut conn = legacy.connect().await;

    // The bot's redundant plain indexes are gone; its unique business keys stay.
    let index_names: BTreeSet<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for (table, key) in [
        ("monitoring_reports", "report_id"),
        ("workflow_executions", "run_id"),
        ("system_health_checks", "check_id"),
        ("notification_logs", "log_id"),
        ("workflow_schedules", "schedule_id"),
    ] {
        assert!(
            !index_names.contains(&format!("{table}_{key}_idx")),
            "{table}_{key}_idx survived"
        );
        assert!(
            index_names.contains(&format!("{table}_{key}_key")),
            "{table}_{key}_key was dropped"
        );
    }
    let duplicates: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, array_agg(c.relname::text ORDER BY c.relname) \
         FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() \
         GROUP BY t.relname, i.indkey::text, i.indclass::text, \
                  coalesce(pg_get_expr(i.indpred, i.indrelid), ''), \
                  coalesce(pg_get_expr(i.indexprs, i.indrelid), '') \
         HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        duplicates.is_empty(),
        "indexes on the same columns: {duplicates:?}"
    );

    // The bot's foreign keys are kept with their rules, and every foreign key is indexed.
    let foreign_keys: BTreeSet<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, a.attname::text, c.confdeltype::text, c.confupdtype::text \
         FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for (table, column, on_delete) in [
        ("workflow_executions", "report_id", "n"),
        ("workflow_metrics", "execution_id", "c"),
        ("system_health_checks", "execution_id", "c"),
        ("notification_logs", "execution_id", "n"),
        ("notification_logs", "report_id", "n"),
    ] {
        let key = (
            table.to_owned(),
            column.to_owned(),
            on_delete.to_owned(),
            "c".to_owned(),
        );
        assert!(
            foreign_keys.contains(&key),
            "foreign key {key:?} missing from {foreign_keys:?}"
        );
    }
    let unindexed: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text \
         FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
           AND NOT EXISTS ( \
               SELECT 1 FROM pg_index i \
               WHERE i.indrelid = c.conrelid \
                 AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );

    // CHECK constraints: the canonical value is accepted, anything else is refused.
    let insert_execution = "INSERT INTO workflow_executions (id, run_id, workflow_name, status, started_at) \
                            VALUES ($1, $2, 'health-check', $3, CURRENT_TIMESTAMP)";
    for status in ["PASSED", "BOGUS", "passed", "SUCCESS"] {
        let result = sqlx::query(insert_execution)
            .bind(new_id("exe"))
            .bind(new_id("run"))
            .bind(status)
            .execute(&mut conn)
            .await;
        if status == "PASSED" {
            result.expect("a canonical status is accepted");
        } else {
            assert_sql_state(result, "23514", &format!("execution status {status:?}"));
        }
    }
    let percentage =
        sqlx::query("UPDATE monitoring_reports SET success_rate = 75 WHERE report_id = $1")
            .bind(&legacy.rows.reports[0].report_id)
            .execute(&mut conn)
            .await;
    assert_sql_state(percentage, "23514", "a success rate of 75");
    for (table, column) in [
        ("system_health_checks", "status"),
        ("notification_logs", "channel"),
        ("notification_logs", "delivery_status"),
    ] {
        let sql = format!("UPDATE {table} SET {column} = 'BOGUS'");
        let result = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
        assert_sql_state(result, "23514", &format!("{table}.{column} = 'BOGUS'"));
    }

    // At most one open alert per fingerprint, enforced by the database.
    let first = alert("rule-1|health-check|production", AlertStatus::Active);
    store
        .insert(std::slice::from_ref(&first))
        .await
        .expect("first open alert");
    let second = alert(&first.fingerprint, AlertStatus::Acknowledged);
    assert_unique_violation(
        store.insert(std::slice::from_ref(&second)).await,
        "a second open alert",
    );
    let other = alert("rule-1|health-check|staging", AlertStatus::Active);
    store
        .insert(&[other])
        .await
        .expect("an open alert of another fingerprint");
    store
        .upsert(&[Alert {
            status: AlertStatus::Resolved,
            ..first.clone()
        }])
        .await
        .expect("resolve");
    store
        .insert(std::slice::from_ref(&second))
        .await
        .expect("a new episode once the first is resolved");
    let resolved_again = alert(&first.fingerprint, AlertStatus::Resolved);
    store
        .insert(&[resolved_again])
        .await
        .expect("resolved episodes do not count");
    let third = alert(&first.fingerprint, AlertStatus::Escalated);
    assert_unique_violation(
        store.insert(&[third]).await,
        "an escalated alert beside an acknowledged one",
    );

    // The kept ON DELETE rules at work on legacy rows: metrics and health checks go with their
    // execution, notification logs and executions outlive what they pointed at.
    let rows = &legacy.rows;
    let run = rows
        .executions
        .iter()
        .find(|e| {
            let linked = |id: Option<&String>| id == Some(&e.run_id);
            rows.metrics.iter().any(|m| linked(m.execution_id.as_ref()))
                && rows
                    .health_checks
                    .iter()
                    .any(|h| linked(h.execution_id.as_ref()))
                && rows
                    .notifications
                    .iter()
                    .any(|n| linked(n.execution_id.as_ref()))
        })
        .expect("an execution with metrics, health checks and notifications");
    let log_ids: Vec<&String> = rows
        .notifications
        .iter()
        .filter(|n| n.execution_id.as_ref() == Some(&run.run_id))
        .map(|n| &n.log_id)
        .collect();
    assert!(
        store
            .delete::<WorkflowExecution>(&run.run_id)
            .await
            .unwrap()
    );
    let (metrics, checks): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM workflow_metrics WHERE execution_id = $1), \
                (SELECT COUNT(*) FROM system_health_checks WHERE execution_id = $1)",
    )
    .bind(&run.run_id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (metrics, checks),
        (0, 0),
        "metrics and health checks go with their execution"
    );
    for log_id in log_ids {
        let log = store
            .get::<NotificationLog>(log_id)
            .await
            .unwrap()
            .expect("notification log kept");
        assert_eq!(log.execution_id, None);
    }
    let report = rows
        .reports
        .iter()
        .find(|r| {
            rows.executions
                .iter()
                .any(|e| e.report_id.as_ref() == Some(&r.report_id) && e.run_id != run.run_id)
        })
        .unwrap();
    assert!(
        store
            .delete::<MonitoringReport>(&report.report_id)
            .await
            .unwrap()
    );
    for execution in rows
        .executions
        .iter()
        .filter(|e| e.report_id.as_ref() == Some(&report.report_id) && e.run_id != run.run_id)
    {
        let read = store
            .get::<WorkflowExecution>(&execution.run_id)
            .await
            .unwrap()
            .expect("execution kept");
        assert_eq!(read.report_id, None);
    }
}

#[tokio::test]
async fn adopted_schema_is_identical_to_a_fresh_one() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    legacy.migrated_store().await;
    let Some(fresh_url) = common::postgres_url().await else {
        return;
    };
    Store::open(&fresh_url, OpenMode::Create)
        .await
        .expect("create a fresh database");

    let adopted = SchemaSnapshot::take(&mut legacy.connect().await).await;
    let fresh = SchemaSnapshot::take(&mut connect(&fresh_url).await).await;
    assert!(
        adopted.columns.len() > 100,
        "the snapshot must see the tables"
    );
    adopted.assert_same("adopted", &fresh, "fresh");
}

#[tokio::test]
async fn database_maintains_updated_at_of_legacy_rows() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    let store = legacy.migrated_store().await;
    let row = &legacy.rows.executions[2];
    let before = store
        .get::<WorkflowExecution>(&row.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.updated_at, utc(row.updated_at));

    let start = Timestamp::now().minus(TimeDelta::seconds(5));
    let changed = WorkflowExecution {
        status: ExecutionStatus::Passed,
        error_message: Some("re-checked by wfmon".into()),
        instance_id: Some("wfmon-1".into()),
        ..before.clone()
    };
    store
        .upsert(std::slice::from_ref(&changed))
        .await
        .expect("upsert a legacy execution");
    let after = store
        .get::<WorkflowExecution>(&row.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.error_message.as_deref(), Some("re-checked by wfmon"));
    assert_eq!(after.status, ExecutionStatus::Passed);
    assert!(
        after.updated_at > before.updated_at,
        "{} <= {}",
        after.updated_at,
        before.updated_at
    );
    assert!(
        after.updated_at >= start,
        "updated_at {} is not the time of the update",
        after.updated_at
    );
    assert!(after.updated_at <= Timestamp::now().plus(TimeDelta::seconds(5)));
    assert_eq!(
        (&after.id, after.created_at),
        (&before.id, before.created_at)
    );

    // Not only the store's upsert: any UPDATE, e.g. one made by hand in psql.
    let schedule = &legacy.rows.schedules[0];
    sqlx::query("UPDATE workflow_schedules SET enabled = NOT enabled WHERE schedule_id = $1")
        .bind(&schedule.schedule_id)
        .execute(&mut legacy.connect().await)
        .await
        .unwrap();
    let read = store
        .get::<WorkflowSchedule>(&schedule.schedule_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.enabled, !schedule.enabled);
    assert!(
        read.updated_at >= start,
        "schedule updated_at {} was not maintained",
        read.updated_at
    );

    // The bot's `updated_at` had no default; an INSERT that leaves it out now gets one.
    let mut conn = legacy.connect().await;
    for (table, key, insert) in [
        (
            "monitoring_reports",
            "report_id",
            "INSERT INTO monitoring_reports (id, report_id, start_time, end_time) \
             VALUES ($1, $2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        ),
        (
            "workflow_executions",
            "run_id",
            "INSERT INTO workflow_executions (id, run_id, workflow_name, status, started_at) \
             VALUES ($1, $2, 'health-check', 'RUNNING', CURRENT_TIMESTAMP)",
        ),
        (
            "workflow_schedules",
            "schedule_id",
            "INSERT INTO workflow_schedules (id, schedule_id, workflow_name, cron_expression) \
             VALUES ($1, $2, 'user-signup', '*/10 * * * *')",
        ),
    ] {
        let key_value = new_id("key");
        sqlx::query(insert)
            .bind(new_id("id"))
            .bind(&key_value)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("insert into {table} without updated_at: {e}"));
        let sql = format!("SELECT updated_at FROM {table} WHERE {key} = $1");
        let updated_at: Timestamp = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&key_value)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(
            updated_at >= start,
            "{table}.updated_at defaulted to {updated_at}"
        );
    }
}

#[tokio::test]
async fn normalisation_does_not_depend_on_the_database_collation() {
    let Some(legacy) = LegacyDatabase::create().await else {
        return;
    };
    // A team running PostgreSQL in a Turkish locale, where upper('skipped') is 'SKİPPED'. The
    // columns get the collation a Turkish database would give them by default.
    let mut conn = legacy.connect().await;
    let turkish: Option<String> = sqlx::query_scalar(
        "SELECT collname::text FROM pg_collation \
         WHERE collname IN ('tr-TR-x-icu', 'tr-x-icu', 'tr_TR.utf8', 'tr_TR.UTF-8') \
         ORDER BY collname LIMIT 1",
    )
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    let Some(turkish) = turkish else {
        eprintln!("skipping: this PostgreSQL has no Turkish collation (built without ICU)");
        return;
    };
    for (table, column) in LEGACY_VALUE_COLUMNS {
        let sql =
            format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE TEXT COLLATE \"{turkish}\"");
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let sql = format!("SELECT upper('skipped' COLLATE \"{turkish}\")");
    let upper: String = sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_ne!(upper, "SKIPPED", "{turkish} must show the dotted capital I");

    let store = legacy.migrated_store().await;
    assert_every_row_reads_back(&store, &legacy.rows).await;
}

/// Reads every legacy row back through the store and compares every column with what the
/// Rust enums make of the legacy text (`LegacyRows` derives the expectations).
async fn assert_every_row_reads_back(store: &Store, rows: &LegacyRows) {
    for row in &rows.reports {
        let read = store.get::<MonitoringReport>(&row.report_id).await.unwrap();
        assert_eq!(
            read,
            Some(row.expected()),
            "report {} ({:?}, {:?})",
            row.report_id,
            row.status,
            row.report_type
        );
    }
    for row in &rows.executions {
        let read = store.get::<WorkflowExecution>(&row.run_id).await.unwrap();
        assert_eq!(
            read,
            Some(row.expected()),
            "execution {} with status {:?}",
            row.run_id,
            row.status
        );
    }
    for row in &rows.metrics {
        let read = store.get::<WorkflowMetric>(&row.id).await.unwrap();
        assert_eq!(read, Some(row.expected()), "metric {}", row.id);
    }
    for row in &rows.health_checks {
        let read = store.get::<SystemHealthCheck>(&row.check_id).await.unwrap();
        assert_eq!(
            read,
            Some(row.expected()),
            "health check {} with status {:?}",
            row.check_id,
            row.status
        );
    }
    for row in &rows.notifications {
        let read = store.get::<NotificationLog>(&row.log_id).await.unwrap();
        assert_eq!(read, Some(row.expected()), "notification {}", row.log_id);
    }
    for row in &rows.schedules {
        let read = store
            .get::<WorkflowSchedule>(&row.schedule_id)
            .await
            .unwrap();
        assert_eq!(read, Some(row.expected()), "schedule {}", row.schedule_id);
    }
}

// ---------------------------------------------------------------------------------------------
// The legacy database
// ---------------------------------------------------------------------------------------------

/// A fresh PostgreSQL schema holding the bot's layout and rows, not yet migrated.
struct LegacyDatabase {
    url: DatabaseUrl,
    rows: LegacyRows,
}

impl LegacyDatabase {
    /// Lays the fixture and inserts the rows over a plain connection, as the bot would have;
    /// `None` when PostgreSQL is unreachable outside CI.
    async fn create() -> Option<LegacyDatabase> {
        let url = common::postgres_url().await?;
        let mut conn = connect(&url).await;
        sqlx::raw_sql(LEGACY_LAYOUT)
            .execute(&mut conn)
            .await
            .expect("lay the legacy Prisma layout");
        let rows = LegacyRows::new();
        rows.insert(&mut conn).await;
        conn.close().await.ok();
        Some(LegacyDatabase { url, rows })
    }

    /// A store on the database after `wfmon db migrate`.
    async fn migrated_store(&self) -> Store {
        let store = Store::connect(&self.url, OpenMode::Existing)
            .await
            .expect("connect");
        store.migrate().await.expect("migrate the legacy database");
        store
    }

    /// A plain connection for what the store API does not expose (catalogs, raw SQL).
    async fn connect(&self) -> PgConnection {
        connect(&self.url).await
    }
}

/// A plain connection on the URL's schema (the URL sets the `search_path`).
async fn connect(url: &DatabaseUrl) -> PgConnection {
    PgConnection::connect(url.as_str())
        .await
        .expect("connect to PostgreSQL")
}

/// The bot's rows. Each knows what wfmon must read back for it, derived from the Rust enums'
/// own parsing, so the SQL normalisation is checked against the aliases for every spelling.
struct LegacyRows {
    reports: Vec<LegacyReport>,
    executions: Vec<LegacyExecution>,
    metrics: Vec<LegacyMetric>,
    health_checks: Vec<LegacyHealthCheck>,
    notifications: Vec<LegacyNotification>,
    schedules: Vec<LegacySchedule>,
}

/// A report row as the bot wrote it. Columns not held here are derived from these (the same
/// way in `insert` and `expected`).
struct LegacyReport {
    /// Which success-rate case the row is, to find it again.
    case: &'static str,
    id: String,
    report_id: String,
    start_time: NaiveDateTime,
    end_time: NaiveDateTime,
    total_runs: i32,
    successful_runs: i32,
    /// As the bot stored it: sometimes a percentage, sometimes a ratio.
    success_rate: f64,
    /// The ratio wfmon must read back.
    expected_rate: f64,
    status: String,
    report_type: String,
    notified_at: Option<NaiveDateTime>,
    metadata: Option<Value>,
}

/// An execution row as the bot wrote it (other columns derived, as for reports).
struct LegacyExecution {
    id: String,
    run_id: String,
    workflow_name: String,
    status: String,
    triggered_by: String,
    environment: String,
    started_at: NaiveDateTime,
    duration_ms: Option<i32>,
    tests_failed: i32,
    error_message: Option<String>,
    metadata: Option<Value>,
    report_id: Option<String>,
    updated_at: NaiveDateTime,
}

/// A metric row as the bot wrote it (other columns derived, as for reports).
struct LegacyMetric {
    id: String,
    workflow_id: String,
    metric_name: String,
    metric_value: f64,
    threshold_value: Option<f64>,
    recorded_at: NaiveDateTime,
    tags: Option<Value>,
    execution_id: Option<String>,
}

/// A health-check row as the bot wrote it (other columns derived, as for reports).
struct LegacyHealthCheck {
    id: String,
    check_id: String,
    status: String,
    checked_at: NaiveDateTime,
    details: Option<Value>,
    metadata: Option<Value>,
    execution_id: Option<String>,
}

/// A notification-log row as the bot wrote it (other columns derived, as for reports).
struct LegacyNotification {
    id: String,
    log_id: String,
    channel: String,
    notification_type: String,
    status: String,
    delivery_status: Option<String>,
    sent_at: NaiveDateTime,
    retry_count: i32,
    metadata: Option<Value>,
    execution_id: Option<String>,
    report_id: Option<String>,
}

/// A schedule row as the bot wrote it (other columns derived, as for reports).
struct LegacySchedule {
    id: String,
    schedule_id: String,
    workflow_name: String,
    cron_expression: String,
    enabled: bool,
    last_run_at: Option<NaiveDateTime>,
    next_run_at: Option<NaiveDateTime>,
    run_count: i32,
    failure_count: i32,
    tags: Option<Value>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl LegacyRows {
    /// Rows covering every spelling of every status and type column (each enum member's
    /// canonical text and legacy aliases, in four forms, plus one value no spelling
    /// matches), the bot's two ways of storing success rates, and the links between tables.
    fn new() -> LegacyRows {
        let reports = legacy_reports();
        let executions = legacy_executions(&reports);
        let metrics = legacy_metrics(&executions);
        let health_checks = legacy_health_checks(&executions);
        let notifications = legacy_notifications(&executions, &reports);
        let schedules = legacy_schedules();
        LegacyRows {
            reports,
            executions,
            metrics,
            health_checks,
            notifications,
            schedules,
        }
    }

    /// Inserts the rows in one transaction over a plain connection, timestamps as the naive
    /// UTC values the bot wrote.
    async fn insert(&self, conn: &mut PgConnection) {
        let mut tx = conn.begin().await.expect("begin");
        for r in &self.reports {
            sqlx::query(
                "INSERT INTO monitoring_reports (id, report_id, start_time, end_time, total_runs, \
                 successful_runs, failed_runs, total_duration_ms, avg_duration_ms, success_rate, status, \
                 report_type, generated_at, notified, notified_at, metadata, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&r.id)
            .bind(&r.report_id)
            .bind(r.start_time)
            .bind(r.end_time)
            .bind(r.total_runs)
            .bind(r.successful_runs)
            .bind(r.total_runs - r.successful_runs)
            .bind(r.total_runs * 1_250)
            .bind(if r.total_runs > 0 { 1_250.0 } else { 0.0 })
            .bind(r.success_rate)
            .bind(&r.status)
            .bind(&r.report_type)
            .bind(r.end_time + TimeDelta::seconds(2))
            .bind(r.notified_at.is_some())
            .bind(r.notified_at)
            .bind(&r.metadata)
            .bind(r.end_time + TimeDelta::seconds(1))
            .bind(r.end_time + TimeDelta::seconds(3))
            .execute(&mut *tx)
            .await
            .expect("insert a legacy report");
        }
        for e in &self.executions {
            sqlx::query(
                "INSERT INTO workflow_executions (id, run_id, workflow_name, status, started_at, \
                 completed_at, duration_ms, tests_passed, tests_failed, tests_total, error_message, \
                 error_stack, triggered_by, environment, metadata, report_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&e.id)
            .bind(&e.run_id)
            .bind(&e.workflow_name)
            .bind(&e.status)
            .bind(e.started_at)
            .bind(e.completed_at())
            .bind(e.duration_ms)
            .bind(3 - e.tests_failed)
            .bind(e.tests_failed)
            .bind(3)
            .bind(&e.error_message)
            .bind(e.error_stack())
            .bind(&e.triggered_by)
            .bind(&e.environment)
            .bind(&e.metadata)
            .bind(&e.report_id)
            .bind(e.started_at)
            .bind(e.updated_at)
            .execute(&mut *tx)
            .await
            .expect("insert a legacy execution");
        }
        for m in &self.metrics {
            sqlx::query(
                "INSERT INTO workflow_metrics (id, workflow_id, metric_name, metric_value, metric_unit, \
                 threshold_value, is_within_threshold, recorded_at, tags, metadata, execution_id, created_at) \
                 VALUES ($1, $2, $3, $4, 'ms', $5, $6, $7, $8, NULL, $9, $7)",
            )
            .bind(&m.id)
            .bind(&m.workflow_id)
            .bind(&m.metric_name)
            .bind(m.metric_value)
            .bind(m.threshold_value)
            .bind(m.within_threshold())
            .bind(m.recorded_at)
            .bind(&m.tags)
            .bind(&m.execution_id)
            .execute(&mut *tx)
            .await
            .expect("insert a legacy metric");
        }
        for h in &self.health_checks {
            sqlx::query(
                "INSERT INTO system_health_checks (id, check_id, check_name, status, response_time_ms, \
                 details, checked_at, endpoint, expected_status, actual_status, error_message, metadata, \
                 execution_id, created_at) \
                 VALUES ($1, $2, 'api-health', $3, 42, $4, $5, 'http://localhost:3000/api/health', 200, 200, \
                 NULL, $6, $7, $5)",
            )
            .bind(&h.id)
            .bind(&h.check_id)
            .bind(&h.status)
            .bind(&h.details)
            .bind(h.checked_at)
            .bind(&h.metadata)
            .bind(&h.execution_id)
            .execute(&mut *tx)
            .await
            .expect("insert a legacy health check");
        }
        for n in &self.notifications {
            sqlx::query(
                "INSERT INTO notification_logs (id, log_id, channel, notification_type, status, message, \
                 recipient, subject, sent_at, delivery_status, error_message, retry_count, metadata, \
                 execution_id, report_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, '#ops-alerts', NULL, $7, $8, NULL, $9, $10, $11, $12, $7)",
            )
            .bind(&n.id)
            .bind(&n.log_id)
            .bind(&n.channel)
            .bind(&n.notification_type)
            .bind(&n.status)
            .bind(n.message())
            .bind(n.sent_at)
            .bind(&n.delivery_status)
            .bind(n.retry_count)
            .bind(&n.metadata)
            .bind(&n.execution_id)
            .bind(&n.report_id)
            .execute(&mut *tx)
            .await
            .expect("insert a legacy notification log");
        }
        for s in &self.schedules {
            sqlx::query(
                "INSERT INTO workflow_schedules (id, schedule_id, workflow_name, cron_expression, enabled, \
                 last_run_at, next_run_at, run_count, failure_count, success_count, description, tags, \
                 metadata, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, $13, $14)",
            )
            .bind(&s.id)
            .bind(&s.schedule_id)
            .bind(&s.workflow_name)
            .bind(&s.cron_expression)
            .bind(s.enabled)
            .bind(s.last_run_at)
            .bind(s.next_run_at)
            .bind(s.run_count)
            .bind(s.failure_count)
            .bind(s.run_count - s.failure_count)
            .bind(s.description())
            .bind(&s.tags)
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await
            .expect("insert a legacy schedule");
        }
        tx.commit().await.expect("commit the legacy rows");
    }
}

/// Reports cycling through every report status and type spelling and through the success
/// rates the bot stored: a percentage, a ratio, and 100 for a window without runs.
fn legacy_reports() -> Vec<LegacyReport> {
    let statuses = with_unknown(
        spellings(
            ReportStatus::ALL,
            ReportStatus::as_str,
            ReportStatus::aliases,
        ),
        "ARCHIVED",
    );
    let types = with_unknown(
        spellings(ReportType::ALL, ReportType::as_str, ReportType::aliases),
        "ADHOC",
    );
    // (case, total runs, successful runs, stored success_rate, ratio wfmon reads back)
    let rates = [
        ("percentage", 4, 3, 75.0, 0.75),
        ("ratio", 2, 1, 0.5, 0.5),
        ("no runs, 100 %", 0, 0, 100.0, 1.0),
        ("no runs, 0", 0, 0, 0.0, 0.0),
        ("no runs, ratio", 0, 0, 0.25, 0.25),
        ("thirds", 3, 1, 33.33, 1.0 / 3.0),
        ("all passed, ratio", 10, 10, 1.0, 1.0),
    ];
    let count = statuses.len().max(types.len()).max(rates.len());
    (0..count)
        .map(|i| {
            let (case, total_runs, successful_runs, success_rate, expected_rate) =
                rates[i % rates.len()];
            let start_time = at(i as i64 * 60);
            LegacyReport {
                case,
                id: cuid(1_000 + i),
                report_id: format!(
                    "report_{}_{}",
                    millis(start_time),
                    base36(7_001 * i as u64 + 11)
                ),
                start_time,
                end_time: start_time + TimeDelta::hours(1),
                total_runs,
                successful_runs,
                success_rate,
                expected_rate,
                status: pick(&statuses, i),
                report_type: pick(&types, i),
                notified_at: (i % 2 == 0).then(|| start_time + TimeDelta::minutes(61)),
                metadata: (i % 3 == 0)
                    .then(|| json!({"workflows": ["health-check", "user-signup"]})),
            }
        })
        .collect()
}

/// Executions cycling through every execution status and trigger spelling, some linked to a
/// report, plus one with a status no spelling matches and metadata of its own.
fn legacy_executions(reports: &[LegacyReport]) -> Vec<LegacyExecution> {
    let statuses = spellings(
        ExecutionStatus::ALL,
        ExecutionStatus::as_str,
        ExecutionStatus::aliases,
    );
    let triggers = with_unknown(
        spellings(TriggeredBy::ALL, TriggeredBy::as_str, TriggeredBy::aliases),
        "GITHUB_PUSH",
    );
    let workflows = [
        "health-check",
        "user-signup",
        "farm-create",
        "order-placement",
    ];
    let environments = ["production", "staging", "development"];
    let mut executions: Vec<LegacyExecution> = (0..statuses.len().max(triggers.len()))
        .map(|i| {
            let started_at = at(i as i64 * 5 + 3);
            let failed = i % 2 == 1;
            LegacyExecution {
                id: cuid(2_000 + i),
                run_id: format!(
                    "run_{}_{}",
                    millis(started_at),
                    base36(48_271 * i as u64 + 7)
                ),
                workflow_name: pick(&workflows, i).to_owned(),
                status: pick(&statuses, i),
                triggered_by: pick(&triggers, i),
                environment: pick(&environments, i).to_owned(),
                started_at,
                duration_ms: (i % 7 != 6).then_some(800 + i as i32 * 13),
                tests_failed: i32::from(failed),
                error_message: failed.then(|| "expected status 200, got 500".to_owned()),
                metadata: (i % 4 == 1)
                    .then(|| json!({"commit": format!("{i:07x}"), "retries": [1, 2]})),
                report_id: (i % 3 == 0).then(|| reports[i % reports.len()].report_id.clone()),
                updated_at: started_at + TimeDelta::milliseconds(2_000 + i as i64),
            }
        })
        .collect();
    let started_at = at(9_000);
    executions.push(LegacyExecution {
        id: cuid(2_999),
        run_id: format!("run_{}_{}", millis(started_at), base36(999_999_937)),
        workflow_name: "health-check".into(),
        status: "WEIRD".into(),
        triggered_by: "SCHEDULED".into(),
        environment: "production".into(),
        started_at,
        duration_ms: Some(1_234),
        tests_failed: 0,
        error_message: None,
        metadata: Some(json!({"source": "typescript-bot"})),
        report_id: None,
        updated_at: started_at + TimeDelta::seconds(2),
    });
    // Metadata that is not an object cannot take a key: the migration keeps it whole.
    let started_at = at(9_010);
    executions.push(LegacyExecution {
        id: cuid(2_998),
        run_id: format!("run_{}_{}", millis(started_at), base36(999_999_929)),
        workflow_name: "health-check".into(),
        status: "STRANGE".into(),
        triggered_by: "SCHEDULED".into(),
        environment: "production".into(),
        started_at,
        duration_ms: Some(4_321),
        tests_failed: 0,
        error_message: None,
        metadata: Some(json!(["step-1", "step-2"])),
        report_id: None,
        updated_at: started_at + TimeDelta::seconds(2),
    });
    // Completed before it started (the bot's clock went back): the duration is unknown.
    let started_at = at(9_020);
    executions.push(LegacyExecution {
        id: cuid(2_997),
        run_id: format!("run_{}_{}", millis(started_at), base36(999_999_893)),
        workflow_name: "health-check".into(),
        status: "PASSED".into(),
        triggered_by: "SCHEDULED".into(),
        environment: "production".into(),
        started_at,
        duration_ms: Some(-1_000),
        tests_failed: 0,
        error_message: None,
        metadata: None,
        report_id: None,
        updated_at: started_at + TimeDelta::seconds(2),
    });
    executions
}

/// Two metrics for each of the first executions, and a few recorded without one.
fn legacy_metrics(executions: &[LegacyExecution]) -> Vec<LegacyMetric> {
    let mut metrics = Vec::new();
    for (i, e) in executions.iter().take(30).enumerate() {
        for (j, (name, threshold)) in [("response_time", Some(1_000.0)), ("total_duration", None)]
            .into_iter()
            .enumerate()
        {
            metrics.push(LegacyMetric {
                id: cuid(3_000 + 2 * i + j),
                workflow_id: e.workflow_name.clone(),
                metric_name: name.to_owned(),
                metric_value: 250.5 * (i + 1) as f64,
                threshold_value: threshold,
                recorded_at: e.started_at + TimeDelta::milliseconds(500),
                tags: (j == 0).then(|| json!({"environment": e.environment})),
                execution_id: Some(e.run_id.clone()),
            });
        }
    }
    for i in 0..3 {
        metrics.push(LegacyMetric {
            id: cuid(3_900 + i),
            workflow_id: "health-check".into(),
            metric_name: "uptime".into(),
            metric_value: 99.9,
            threshold_value: None,
            recorded_at: at(8_000 + i as i64),
            tags: None,
            execution_id: None,
        });
    }
    metrics
}

/// Health checks cycling through every health status spelling, most linked to an execution.
fn legacy_health_checks(executions: &[LegacyExecution]) -> Vec<LegacyHealthCheck> {
    let statuses = with_unknown(
        spellings(
            HealthStatus::ALL,
            HealthStatus::as_str,
            HealthStatus::aliases,
        ),
        "SIDEWAYS",
    );
    (0..statuses.len())
        .map(|i| {
            let execution = (i % 5 != 4).then(|| &executions[(2 * i) % executions.len()]);
            let checked_at = execution.map_or(at(7_000 + i as i64), |e| {
                e.started_at + TimeDelta::milliseconds(250)
            });
            LegacyHealthCheck {
                id: cuid(4_000 + i),
                check_id: format!(
                    "check_{}_{}",
                    millis(checked_at),
                    base36(69_621 * i as u64 + 3)
                ),
                status: pick(&statuses, i),
                checked_at,
                details: (i % 2 == 0).then(|| json!({"database": "up", "redis": null})),
                metadata: (i % 3 == 0).then(|| json!({"probe": "http"})),
                execution_id: execution.map(|e| e.run_id.clone()),
            }
        })
        .collect()
}

/// Notification logs cycling through every channel, type, status and delivery-status
/// spelling (delivery status also NULL), linked to executions and reports.
fn legacy_notifications(
    executions: &[LegacyExecution],
    reports: &[LegacyReport],
) -> Vec<LegacyNotification> {
    let channels = with_unknown(
        spellings(
            NotificationChannel::ALL,
            NotificationChannel::as_str,
            NotificationChannel::aliases,
        ),
        "CARRIER_PIGEON",
    );
    let types = with_unknown(
        spellings(
            NotificationType::ALL,
            NotificationType::as_str,
            NotificationType::aliases,
        ),
        "DIGEST",
    );
    let statuses = with_unknown(
        spellings(
            NotificationStatus::ALL,
            NotificationStatus::as_str,
            NotificationStatus::aliases,
        ),
        "BOUNCED",
    );
    let mut deliveries: Vec<Option<String>> = with_unknown(
        spellings(
            DeliveryStatus::ALL,
            DeliveryStatus::as_str,
            DeliveryStatus::aliases,
        ),
        "BOUNCED",
    )
    .into_iter()
    .map(Some)
    .collect();
    deliveries.push(None);
    let count = channels
        .len()
        .max(types.len())
        .max(statuses.len())
        .max(deliveries.len());
    (0..count)
        .map(|i| {
            let sent_at = at(5_000 + i as i64);
            LegacyNotification {
                id: cuid(5_000 + i),
                log_id: format!(
                    "notif_{}_{}",
                    millis(sent_at),
                    base36(16_807 * i as u64 + 5)
                ),
                channel: pick(&channels, i),
                notification_type: pick(&types, i),
                status: pick(&statuses, i),
                delivery_status: pick(&deliveries, i),
                sent_at,
                retry_count: (i % 3) as i32,
                metadata: (i % 4 == 0).then(|| json!({"webhook": "slack-ops"})),
                execution_id: (i % 2 == 0).then(|| executions[i % executions.len()].run_id.clone()),
                report_id: (i % 3 == 0).then(|| reports[i % reports.len()].report_id.clone()),
            }
        })
        .collect()
}

/// The bot's schedule rows (a table it wrote but never read).
fn legacy_schedules() -> Vec<LegacySchedule> {
    [
        ("health-check", "*/5 * * * *", true),
        ("user-signup", "0 * * * *", false),
        ("order-placement", "30 2 * * 1-5", true),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (workflow, cron, enabled))| {
        let created_at = at(i as i64);
        LegacySchedule {
            id: cuid(6_000 + i),
            schedule_id: format!("schedule_{workflow}"),
            workflow_name: workflow.to_owned(),
            cron_expression: cron.to_owned(),
            enabled,
            last_run_at: (i != 1).then(|| at(4_000 + i as i64)),
            next_run_at: enabled.then(|| at(4_005 + i as i64)),
            run_count: 120 * (i as i32 + 1),
            failure_count: 7 * i as i32,
            tags: (i == 0).then(|| json!(["critical", "api"])),
            created_at,
            updated_at: created_at + TimeDelta::days(3),
        }
    })
    .collect()
}

// ---------------------------------------------------------------------------------------------
// What wfmon must read back
// ---------------------------------------------------------------------------------------------

impl LegacyReport {
    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> MonitoringReport {
        let mut kept = Vec::new();
        MonitoringReport {
            id: self.id.clone(),
            report_id: self.report_id.clone(),
            start_time: utc(self.start_time),
            end_time: utc(self.end_time),
            total_runs: self.total_runs.into(),
            successful_runs: self.successful_runs.into(),
            failed_runs: (self.total_runs - self.successful_runs).into(),
            total_duration_ms: i64::from(self.total_runs) * 1_250,
            avg_duration_ms: if self.total_runs > 0 { 1_250.0 } else { 0.0 },
            success_rate: self.expected_rate,
            status: normalised(
                &self.status,
                ReportStatus::Completed,
                "legacyStatus",
                &mut kept,
            ),
            report_type: normalised(
                &self.report_type,
                ReportType::Periodic,
                "legacyReportType",
                &mut kept,
            ),
            generated_at: utc(self.end_time + TimeDelta::seconds(2)),
            notified: self.notified_at.is_some(),
            notified_at: self.notified_at.map(utc),
            metadata: with_legacy(&self.metadata, &kept),
            created_at: utc(self.end_time + TimeDelta::seconds(1)),
            updated_at: utc(self.end_time + TimeDelta::seconds(3)),
        }
    }
}

impl LegacyExecution {
    /// Derived from the start and duration; NULL where the bot recorded no duration.
    fn completed_at(&self) -> Option<NaiveDateTime> {
        self.duration_ms
            .map(|ms| self.started_at + TimeDelta::milliseconds(ms.into()))
    }

    /// A Node-style stack for failed runs, derived so that insert and expectation agree.
    fn error_stack(&self) -> Option<String> {
        self.error_message
            .as_ref()
            .map(|m| format!("Error: {m}\n    at runWorkflow (monitor.ts:212:11)"))
    }

    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> WorkflowExecution {
        let mut kept = Vec::new();
        WorkflowExecution {
            id: self.id.clone(),
            run_id: self.run_id.clone(),
            workflow_name: self.workflow_name.clone(),
            status: normalised(
                &self.status,
                ExecutionStatus::Failed,
                "legacyStatus",
                &mut kept,
            ),
            started_at: utc(self.started_at),
            completed_at: self.completed_at().map(utc),
            duration_ms: self.duration_ms.filter(|ms| *ms >= 0),
            tests_passed: 3 - self.tests_failed,
            tests_failed: self.tests_failed,
            tests_total: 3,
            error_message: self.error_message.clone(),
            error_stack: self.error_stack(),
            triggered_by: normalised(
                &self.triggered_by,
                TriggeredBy::Scheduled,
                "legacyTriggeredBy",
                &mut kept,
            ),
            environment: self.environment.clone(),
            metadata: with_legacy(&self.metadata, &kept),
            report_id: self.report_id.clone(),
            attempt: 1,
            first_run_id: None,
            schedule_id: None,
            instance_id: None,
            created_at: utc(self.started_at),
            updated_at: utc(self.updated_at),
        }
    }
}

impl LegacyMetric {
    /// Derived from value and threshold, as the bot computed it.
    fn within_threshold(&self) -> bool {
        self.threshold_value.is_none_or(|t| self.metric_value <= t)
    }

    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> WorkflowMetric {
        WorkflowMetric {
            id: self.id.clone(),
            workflow_id: self.workflow_id.clone(),
            metric_name: self.metric_name.clone(),
            metric_value: self.metric_value,
            metric_unit: Some("ms".into()),
            threshold_value: self.threshold_value,
            is_within_threshold: self.within_threshold(),
            recorded_at: utc(self.recorded_at),
            tags: self.tags.clone().map(wfmon_model::json),
            metadata: None,
            execution_id: self.execution_id.clone(),
            created_at: utc(self.recorded_at),
        }
    }
}

impl LegacyHealthCheck {
    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> SystemHealthCheck {
        let mut kept = Vec::new();
        SystemHealthCheck {
            id: self.id.clone(),
            check_id: self.check_id.clone(),
            check_name: "api-health".into(),
            status: normalised(
                &self.status,
                HealthStatus::Unhealthy,
                "legacyStatus",
                &mut kept,
            ),
            response_time_ms: 42,
            details: self.details.clone().map(wfmon_model::json),
            checked_at: utc(self.checked_at),
            endpoint: Some("http://localhost:3000/api/health".into()),
            expected_status: Some(200),
            actual_status: Some(200),
            error_message: None,
            metadata: with_legacy(&self.metadata, &kept),
            execution_id: self.execution_id.clone(),
            created_at: utc(self.checked_at),
        }
    }
}

impl LegacyNotification {
    /// Derived from the log id, so that each message is distinct.
    fn message(&self) -> String {
        format!("Workflow notification {}", self.log_id)
    }

    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> NotificationLog {
        let mut kept = Vec::new();
        let channel = normalised(
            &self.channel,
            NotificationChannel::All,
            "legacyChannel",
            &mut kept,
        );
        let notification_type = normalised(
            &self.notification_type,
            NotificationType::Alert,
            "legacyNotificationType",
            &mut kept,
        );
        let status = normalised(
            &self.status,
            NotificationStatus::Failed,
            "legacyStatus",
            &mut kept,
        );
        // delivery_status is nullable: text no spelling matches becomes NULL.
        let delivery_status = self.delivery_status.as_deref().and_then(|text| {
            let parsed = text.parse::<DeliveryStatus>().ok();
            if parsed.is_none() {
                kept.push(("legacyDeliveryStatus", text.to_owned()));
            }
            parsed
        });
        NotificationLog {
            id: self.id.clone(),
            log_id: self.log_id.clone(),
            channel,
            notification_type,
            status,
            message: self.message(),
            recipient: Some("#ops-alerts".into()),
            subject: None,
            sent_at: utc(self.sent_at),
            delivery_status,
            error_message: None,
            retry_count: self.retry_count,
            metadata: with_legacy(&self.metadata, &kept),
            execution_id: self.execution_id.clone(),
            report_id: self.report_id.clone(),
            alert_id: None,
            channel_name: None,
            next_attempt_at: None,
            claimed_by: None,
            claimed_until: None,
            created_at: utc(self.sent_at),
        }
    }
}

impl LegacySchedule {
    /// Derived from workflow and cron expression.
    fn description(&self) -> String {
        format!("Runs {} on {}", self.workflow_name, self.cron_expression)
    }

    /// The record wfmon must read back for this row after migrating.
    fn expected(&self) -> WorkflowSchedule {
        WorkflowSchedule {
            id: self.id.clone(),
            schedule_id: self.schedule_id.clone(),
            workflow_name: self.workflow_name.clone(),
            cron_expression: self.cron_expression.clone(),
            enabled: self.enabled,
            last_run_at: self.last_run_at.map(utc),
            next_run_at: self.next_run_at.map(utc),
            run_count: self.run_count.into(),
            failure_count: self.failure_count.into(),
            success_count: (self.run_count - self.failure_count).into(),
            description: Some(self.description()),
            tags: self.tags.clone().map(wfmon_model::json),
            metadata: None,
            environment: "production".into(),
            timezone: "UTC".into(),
            lease_owner: None,
            lease_expires_at: None,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        }
    }
}

/// The member wfmon must read back for a legacy text: whatever the Rust parser makes of it,
/// so that the migration's SQL normaliser is held to the enum's own aliases; for text no
/// spelling matches, the migration's fallback, with the text noted for `with_legacy`.
fn normalised<E: FromStr>(
    text: &str,
    fallback: E,
    legacy_key: &'static str,
    kept: &mut Vec<(&'static str, String)>,
) -> E {
    text.parse().unwrap_or_else(|_| {
        kept.push((legacy_key, text.to_owned()));
        fallback
    })
}

/// The legacy metadata with the original text of each unknown value added under its
/// `legacy<Column>` key (the migration keeps what it could not map); unchanged otherwise.
/// Metadata that is not an object is kept whole under `legacyMetadata`.
fn with_legacy(metadata: &Option<Value>, kept: &[(&'static str, String)]) -> Option<Json> {
    if kept.is_empty() {
        return metadata.clone().map(wfmon_model::json);
    }
    let mut object = match metadata {
        Some(Value::Object(object)) => object.clone(),
        Some(other) => Map::from_iter([("legacyMetadata".to_owned(), other.clone())]),
        None => Map::new(),
    };
    for (key, text) in kept {
        object.insert((*key).to_owned(), Value::String(text.clone()));
    }
    Some(wfmon_model::json(Value::Object(object)))
}

// ---------------------------------------------------------------------------------------------
// Legacy values
// ---------------------------------------------------------------------------------------------

/// Every spelling of an enum's column (each member's canonical text and legacy aliases, then
/// every text any SQL normaliser of the migration knows, for whichever column), each in four
/// forms: upper, lower, alternating with padding spaces (`" pAsSeD "`), and title case wrapped
/// in a tab and a CRLF (`"\tPassed\r\n"`, as a value captured from a script's output
/// arrives). The expectation for each comes from the Rust parser, so a spelling only one side
/// knows, or reads differently, fails the read-back.
fn spellings<E: Copy>(
    all: &[E],
    canonical: fn(E) -> &'static str,
    aliases: fn(E) -> &'static [&'static str],
) -> Vec<String> {
    let own = all.iter().flat_map(|member| {
        std::iter::once(canonical(*member)).chain(aliases(*member).iter().copied())
    });
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for text in own.chain(sql_spellings()) {
        if !seen.insert(text) {
            continue;
        }
        let alternating: String = text
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        let title = format!("{}{}", &text[..1], text[1..].to_ascii_lowercase());
        out.extend([
            text.to_ascii_uppercase(),
            text.to_ascii_lowercase(),
            format!(" {alternating} "),
            format!("\t{title}\r\n"),
        ]);
    }
    out
}

/// Every text the migration's SQL normalisers map (`WHEN 'SUCCESS' THEN 'PASSED'`), read from
/// the migration itself, so that the fixture covers the SQL side's spellings too, not only
/// the Rust aliases.
fn sql_spellings() -> Vec<&'static str> {
    let texts: Vec<&'static str> = WFMON_LAYOUT
        .split("WHEN '")
        .skip(1)
        .filter_map(|rest| {
            let (text, after) = rest.split_once('\'')?;
            after.trim_start().starts_with("THEN").then_some(text)
        })
        .collect();
    assert!(
        texts.contains(&"SUCCESS") && texts.contains(&"HEALTHY") && texts.contains(&"SLACK"),
        "the normalisers' spellings were not found in the migration: {texts:?}"
    );
    texts
}

/// The spellings plus one text no spelling matches, which the migration must map to its
/// fallback and keep in metadata.
fn with_unknown(mut spellings: Vec<String>, unknown: &str) -> Vec<String> {
    assert!(
        spellings
            .iter()
            .all(|s| s.trim().to_ascii_uppercase() != unknown)
    );
    spellings.push(unknown.to_owned());
    spellings
}

/// The `i`-th value, cycling, so that a table with n rows covers every list of at most n values.
fn pick<T: Clone>(values: &[T], i: usize) -> T {
    values[i % values.len()].clone()
}

/// A naive timestamp as the bot wrote it: `minute` minutes into the history, with a
/// millisecond part, so that precision loss would show.
fn at(minute: i64) -> NaiveDateTime {
    let start = NaiveDate::from_ymd_opt(2025, 11, 14)
        .unwrap()
        .and_hms_milli_opt(6, 0, 0, 0)
        .unwrap();
    start
        + TimeDelta::minutes(minute)
        + TimeDelta::milliseconds((minute * 37 + 123).rem_euclid(1_000))
}

/// The instant a naive legacy timestamp means (the bot stored UTC without a zone).
fn utc(naive: NaiveDateTime) -> Timestamp {
    Timestamp::from(naive.and_utc())
}

/// Milliseconds since the epoch, as in the bot's `run_${Date.now()}_...` ids.
fn millis(naive: NaiveDateTime) -> i64 {
    naive.and_utc().timestamp_millis()
}

/// Lower-case base 36, as JavaScript's `toString(36)` writes it.
fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// A deterministic id in cuid's shape (`c`, time, counter, fingerprint, random: 25 characters),
/// like Prisma's `@default(cuid())`.
fn cuid(seq: usize) -> String {
    let seq = seq as u64;
    let id = format!(
        "c{:0>8}{:0>4}wfm0{:0>8}",
        base36(1_763_107_200_000 + seq),
        base36(seq % 1_679_616),
        base36(seq.wrapping_mul(2_862_933_555_777_941_757) % 2_821_109_907_456)
    );
    assert_eq!(id.len(), 25, "{id}");
    id
}

/// An alert of the given fingerprint and status.
fn alert(fingerprint: &str, status: AlertStatus) -> Alert {
    let now = Timestamp::now();
    Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "rule-1".into(),
        workflow_name: "health-check".into(),
        environment: "production".into(),
        severity: AlertSeverity::Critical,
        status,
        fingerprint: fingerprint.to_owned(),
        message: "health-check failed 3 times in a row".into(),
        triggered_at: now,
        last_triggered_at: now,
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        escalated_at: None,
        last_notified_at: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog comparisons
// ---------------------------------------------------------------------------------------------

/// Asserts that a statement failed with the given SQLSTATE (23514: check violation).
fn assert_sql_state(
    result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>,
    code: &str,
    what: &str,
) {
    match result {
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(code) => {}
        other => panic!("{what}: expected SQLSTATE {code}, got {other:?}"),
    }
}

/// Asserts that a store write failed on a unique index (SQLSTATE 23505).
fn assert_unique_violation(result: Result<u64, StoreError>, what: &str) {
    match result {
        Err(StoreError::Query {
            source: sqlx::Error::Database(error),
            ..
        }) if error.code().as_deref() == Some("23505") => {}
        other => panic!("{what} must be refused by the unique index, got {other:?}"),
    }
}

/// Row count and an md5 of every row's text of every table of the schema, so that "changed
/// nothing" covers every column of every row, not a sample.
async fn table_digests(conn: &mut PgConnection) -> Vec<(String, i64, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut digests = Vec::new();
    for table in tables {
        let sql = format!(
            "SELECT COUNT(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{table}\" AS t"
        );
        let (rows, digest): (i64, String) = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        digests.push((table, rows, digest));
    }
    digests
}

/// One column as `information_schema.columns` describes it: (table, column, data type,
/// nullable, default, maximum length, timestamp precision).
type ColumnShape = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i32>,
    Option<i32>,
);

/// What a schema is, independent of its name and of index names: columns, constraints,
/// index definitions and triggers of wfmon's tables (other tools' tables left out).
#[derive(Debug, PartialEq, Eq)]
struct SchemaSnapshot {
    columns: BTreeSet<ColumnShape>,
    /// (table, constraint type, definition)
    constraints: BTreeSet<(String, String, String)>,
    /// (table, definition with index and schema names removed)
    indexes: BTreeSet<(String, String)>,
    /// (table, definition with the schema name removed)
    triggers: BTreeSet<(String, String)>,
}

impl SchemaSnapshot {
    /// The snapshot of the connection's current schema.
    async fn take(conn: &mut PgConnection) -> SchemaSnapshot {
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let unqualify = |text: &str| text.replace(&format!("{schema}."), "");
        let foreign: Vec<String> = FOREIGN_TABLES.iter().map(|t| (*t).to_owned()).collect();
        let columns = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
                    column_default::text, character_maximum_length::int4, datetime_precision::int4 \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name::text <> ALL($1)",
        )
        .bind(&foreign)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
        let constraints = sqlx::query_as::<_, (String, String, String)>(
            "SELECT t.relname::text, c.contype::text, pg_get_constraintdef(c.oid) \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             WHERE c.connamespace = current_schema()::regnamespace AND t.relname::text <> ALL($1)",
        )
        .bind(&foreign)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(table, kind, definition)| (table, kind, unqualify(&definition)))
        .collect();
        let indexes = sqlx::query_as::<_, (String, String, String)>(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename::text <> ALL($1)",
        )
        .bind(&foreign)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(table, name, definition)| {
            let anonymous = definition.replacen(&format!(" {name} ON "), " ON ", 1);
            assert_ne!(
                anonymous, definition,
                "index name {name} not found in {definition}"
            );
            (table, unqualify(&anonymous))
        })
        .collect();
        let triggers = sqlx::query_as::<_, (String, String)>(
            "SELECT t.relname::text, pg_get_triggerdef(g.oid) \
             FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid \
             WHERE NOT g.tgisinternal AND t.relnamespace = current_schema()::regnamespace",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(table, definition)| (table, unqualify(&definition)))
        .collect();
        SchemaSnapshot {
            columns,
            constraints,
            indexes,
            triggers,
        }
    }

    /// Asserts equality, naming only what differs (the snapshots are hundreds of lines).
    fn assert_same(&self, name: &str, other: &SchemaSnapshot, other_name: &str) {
        fn differences<T: Ord + std::fmt::Debug>(
            what: &str,
            a: &BTreeSet<T>,
            a_name: &str,
            b: &BTreeSet<T>,
            b_name: &str,
        ) -> String {
            let only_a: Vec<&T> = a.difference(b).collect();
            let only_b: Vec<&T> = b.difference(a).collect();
            if only_a.is_empty() && only_b.is_empty() {
                return String::new();
            }
            format!("{what}:\n  only in {a_name}: {only_a:#?}\n  only in {b_name}: {only_b:#?}\n")
        }
        let report = [
            differences("columns", &self.columns, name, &other.columns, other_name),
            differences(
                "constraints",
                &self.constraints,
                name,
                &other.constraints,
                other_name,
            ),
            differences("indexes", &self.indexes, name, &other.indexes, other_name),
            differences(
                "triggers",
                &self.triggers,
                name,
                &other.triggers,
                other_name,
            ),
        ]
        .concat();
        assert!(report.is_empty(), "schemas differ:\n{report}");
        assert_eq!(self, other);
    }
}
