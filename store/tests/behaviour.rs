//! The store's behaviour, the same test bodies on SQLite and on PostgreSQL: CRUD of every
//! table, relations, cascade rules, aggregates, transactions, NULL and JSON edge cases,
//! constraints, drift detection, pagination, retention.

mod common;

use chrono::TimeDelta;
use common::*;
use serde_json::json as j;
use wfmon_model::*;
use wfmon_store::{ExecutionFilter, ExecutionRecord, OpenMode, SchemaProblem, Store, StoreError};

on_both_backends!(
    crud_on_every_table,
    execution_reads_back_with_all_its_relations,
    deleting_an_execution_cascades_to_its_results_but_keeps_notifications,
    deleting_a_report_detaches_its_executions,
    aggregates_group_count_and_average,
    a_failed_transaction_leaves_nothing_behind,
    nulls_and_json_round_trip,
    check_constraints_accept_every_enum_value_and_nothing_else,
    one_open_alert_per_fingerprint,
    updated_at_is_maintained_by_the_database,
    drift_is_reported_with_table_column_and_fix,
    a_foreign_not_null_column_without_default_is_drift,
    a_newer_schema_is_refused,
    executions_filter_and_paginate,
    prune_removes_old_results_and_keeps_reports_and_rollups,
    stats_count_rows_and_time_range,
    timestamps_keep_milliseconds_and_order,
);

async fn crud_on_every_table(db: TestDb) {
    let s = &db.store;
    let rep = report();
    s.insert(std::slice::from_ref(&rep)).await.unwrap();
    let exe = execution("user-login", ExecutionStatus::Passed, minutes_ago(5), 120);
    s.insert(std::slice::from_ref(&exe)).await.unwrap();
    let stp = step(&exe, 0);
    let met = metric(&exe, "response_time", 120.0, Some(500.0));
    let chk = health_check(&exe, HealthStatus::Healthy);
    let ntf = notification(&exe);
    s.insert(std::slice::from_ref(&stp)).await.unwrap();
    s.insert(std::slice::from_ref(&met)).await.unwrap();
    s.insert(std::slice::from_ref(&chk)).await.unwrap();
    s.insert(std::slice::from_ref(&ntf)).await.unwrap();
    let now = Timestamp::now();
    let sch = WorkflowSchedule {
        id: new_id("sch"),
        schedule_id: "user-login@production".into(),
        workflow_name: "user-login".into(),
        cron_expression: "*/5 * * * *".into(),
        enabled: true,
        last_run_at: None,
        next_run_at: Some(now),
        run_count: 0,
        failure_count: 0,
        success_count: 0,
        description: Some("login journey".into()),
        tags: Some(json(j!(["critical"]))),
        metadata: None,
        environment: "production".into(),
        timezone: "Europe/Paris".into(),
        lease_owner: None,
        lease_expires_at: None,
        created_at: now,
        updated_at: now,
    };
    let alr = alert("user-login", AlertStatus::Active);
    let rol = WorkflowRollup {
        id: new_id("rol"),
        bucket: RollupBucket::Minute,
        bucket_start: Timestamp::from_unix_millis(1_700_000_040_000).unwrap(),
        workflow_name: "user-login".into(),
        environment: "production".into(),
        runs: 3,
        passed: 2,
        failed: 1,
        warnings: 0,
        duration_sum_ms: 360,
        duration_min_ms: Some(100),
        duration_max_ms: Some(140),
        duration_sketch: None,
        minutes_measured: 0,
        minutes_up: 0,
        updated_at: now,
    };
    s.insert(std::slice::from_ref(&sch)).await.unwrap();
    s.insert(std::slice::from_ref(&alr)).await.unwrap();
    s.insert(std::slice::from_ref(&rol)).await.unwrap();

    // Read: each row comes back field for field (updated_at aside, which the database owns).
    assert_eq!(
        s.get::<MonitoringReport>(&rep.report_id)
            .await
            .unwrap()
            .unwrap(),
        rep
    );
    assert_eq!(
        s.get::<WorkflowExecution>(&exe.run_id)
            .await
            .unwrap()
            .unwrap(),
        exe
    );
    assert_eq!(
        s.get::<WorkflowStepResult>(&stp.step_result_id)
            .await
            .unwrap()
            .unwrap(),
        stp
    );
    assert_eq!(
        s.get::<WorkflowMetric>(&met.id).await.unwrap().unwrap(),
        met
    );
    assert_eq!(
        s.get::<SystemHealthCheck>(&chk.check_id)
            .await
            .unwrap()
            .unwrap(),
        chk
    );
    assert_eq!(
        s.get::<NotificationLog>(&ntf.log_id)
            .await
            .unwrap()
            .unwrap(),
        ntf
    );
    assert_eq!(
        s.get::<WorkflowSchedule>(&sch.schedule_id)
            .await
            .unwrap()
            .unwrap(),
        sch
    );
    assert_eq!(s.get::<Alert>(&alr.alert_id).await.unwrap().unwrap(), alr);
    assert_eq!(
        s.get::<WorkflowRollup>(&rol.id).await.unwrap().unwrap(),
        rol
    );
    assert_eq!(
        s.get::<WorkflowExecution>("run_missing").await.unwrap(),
        None
    );

    // Update through upsert on the business key.
    let mut changed = exe.clone();
    changed.status = ExecutionStatus::Failed;
    changed.error_message = Some("timeout".into());
    s.upsert(std::slice::from_ref(&changed)).await.unwrap();
    let back = s
        .get::<WorkflowExecution>(&exe.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.status, ExecutionStatus::Failed);
    assert_eq!(back.error_message.as_deref(), Some("timeout"));
    assert_eq!(back.id, exe.id, "upsert keeps the row's identity");
    let mut sch2 = sch.clone();
    sch2.run_count = 7;
    sch2.enabled = false;
    s.upsert(std::slice::from_ref(&sch2)).await.unwrap();
    let back = s
        .get::<WorkflowSchedule>(&sch.schedule_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((back.run_count, back.enabled), (7, false));

    // A duplicate business key is refused by insert.
    let dup = MonitoringReport {
        id: new_id("rep"),
        ..rep.clone()
    };
    assert!(s.insert(std::slice::from_ref(&dup)).await.is_err());

    // Delete.
    assert!(s.delete::<NotificationLog>(&ntf.log_id).await.unwrap());
    assert!(s.delete::<WorkflowMetric>(&met.id).await.unwrap());
    assert!(s.delete::<SystemHealthCheck>(&chk.check_id).await.unwrap());
    assert!(
        s.delete::<WorkflowStepResult>(&stp.step_result_id)
            .await
            .unwrap()
    );
    assert!(s.delete::<WorkflowExecution>(&exe.run_id).await.unwrap());
    assert!(s.delete::<MonitoringReport>(&rep.report_id).await.unwrap());
    assert!(
        s.delete::<WorkflowSchedule>(&sch.schedule_id)
            .await
            .unwrap()
    );
    assert!(s.delete::<Alert>(&alr.alert_id).await.unwrap());
    assert!(s.delete::<WorkflowRollup>(&rol.id).await.unwrap());
    assert!(!s.delete::<WorkflowRollup>(&rol.id).await.unwrap());
    assert_eq!(s.count::<WorkflowExecution>().await.unwrap(), 0);
    assert_eq!(s.count::<MonitoringReport>().await.unwrap(), 0);
}

fn alert(workflow: &str, status: AlertStatus) -> Alert {
    let now = Timestamp::now();
    Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "consecutive-failures".into(),
        workflow_name: workflow.into(),
        environment: "production".into(),
        severity: AlertSeverity::Critical,
        status,
        fingerprint: format!("consecutive-failures/{workflow}/production"),
        message: "3 consecutive failures".into(),
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

/// An execution with 3 steps, 2 metrics and a health check, recorded as one unit.
fn complete(
    workflow: &str,
    status: ExecutionStatus,
    started_at: Timestamp,
    duration_ms: i32,
) -> ExecutionRecord {
    let execution = execution(workflow, status, started_at, duration_ms);
    ExecutionRecord {
        steps: (0..3).map(|i| step(&execution, i)).collect(),
        metrics: vec![
            metric(
                &execution,
                "response_time",
                f64::from(duration_ms),
                Some(1000.0),
            ),
            metric(&execution, "total_duration", f64::from(duration_ms), None),
        ],
        health_checks: vec![health_check(&execution, HealthStatus::Healthy)],
        execution,
    }
}

async fn execution_reads_back_with_all_its_relations(db: TestDb) {
    let s = &db.store;
    let rep = report();
    s.insert(std::slice::from_ref(&rep)).await.unwrap();
    let mut rec = complete(
        "order-placement",
        ExecutionStatus::Passed,
        minutes_ago(3),
        250,
    );
    rec.execution.report_id = Some(rep.report_id.clone());
    // The run is written when it starts, then completed with its results.
    let mut running = rec.execution.clone();
    running.status = ExecutionStatus::Running;
    running.completed_at = None;
    running.duration_ms = None;
    s.start_execution(&running).await.unwrap();
    assert_eq!(
        s.get::<WorkflowExecution>(&running.run_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ExecutionStatus::Running
    );
    s.record_executions(std::slice::from_ref(&rec))
        .await
        .unwrap();
    let ntf = notification(&rec.execution);
    s.insert(std::slice::from_ref(&ntf)).await.unwrap();

    let detail = s
        .execution_detail(&rec.execution.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.execution.status, ExecutionStatus::Passed);
    assert_eq!(detail.execution.duration_ms, Some(250));
    assert_eq!(
        detail
            .steps
            .iter()
            .map(|s| s.step_order)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(detail.steps, rec.steps);
    assert_eq!(detail.metrics.len(), 2);
    assert!(
        detail
            .metrics
            .iter()
            .all(|m| m.execution_id.as_deref() == Some(rec.execution.run_id.as_str()))
    );
    assert_eq!(detail.health_checks, rec.health_checks);
    assert_eq!(detail.notifications, vec![ntf]);
    assert_eq!(
        detail.report.as_ref().map(|r| &r.report_id),
        Some(&rep.report_id)
    );
    assert_eq!(s.execution_detail("run_nope").await.unwrap(), None);

    // The JSON API shape comes from the same structs: camelCase throughout.
    let value = serde_json::to_value(&detail).unwrap();
    assert_eq!(value["execution"]["runId"], j!(rec.execution.run_id));
    assert_eq!(value["healthChecks"][0]["responseTimeMs"], j!(12));
    assert_eq!(value["steps"][0]["assertions"][0]["expected"], j!("200"));
}

async fn deleting_an_execution_cascades_to_its_results_but_keeps_notifications(db: TestDb) {
    let s = &db.store;
    let keep = complete(
        "product-listing",
        ExecutionStatus::Passed,
        minutes_ago(9),
        80,
    );
    let gone = complete(
        "product-listing",
        ExecutionStatus::Failed,
        minutes_ago(8),
        90,
    );
    s.record_executions(&[keep.clone(), gone.clone()])
        .await
        .unwrap();
    let ntf = notification(&gone.execution);
    s.insert(std::slice::from_ref(&ntf)).await.unwrap();

    assert!(
        s.delete::<WorkflowExecution>(&gone.execution.run_id)
            .await
            .unwrap()
    );

    for m in &gone.metrics {
        assert_eq!(
            s.get::<WorkflowMetric>(&m.id).await.unwrap(),
            None,
            "metric cascades"
        );
    }
    for c in &gone.health_checks {
        assert_eq!(
            s.get::<SystemHealthCheck>(&c.check_id).await.unwrap(),
            None,
            "health check cascades"
        );
    }
    for st in &gone.steps {
        assert_eq!(
            s.get::<WorkflowStepResult>(&st.step_result_id)
                .await
                .unwrap(),
            None,
            "step cascades"
        );
    }
    let log = s
        .get::<NotificationLog>(&ntf.log_id)
        .await
        .unwrap()
        .expect("notification log outlives the execution");
    assert_eq!(log.execution_id, None);
    // The other execution is untouched.
    assert_eq!(s.count::<WorkflowMetric>().await.unwrap(), 2);
    assert_eq!(s.count::<SystemHealthCheck>().await.unwrap(), 1);
    assert_eq!(s.count::<WorkflowStepResult>().await.unwrap(), 3);
}

async fn deleting_a_report_detaches_its_executions(db: TestDb) {
    let s = &db.store;
    let rep = report();
    s.insert(std::slice::from_ref(&rep)).await.unwrap();
    let mut rec = complete("health-check", ExecutionStatus::Passed, minutes_ago(1), 20);
    rec.execution.report_id = Some(rep.report_id.clone());
    s.record_executions(std::slice::from_ref(&rec))
        .await
        .unwrap();
    let mut ntf = notification(&rec.execution);
    ntf.report_id = Some(rep.report_id.clone());
    ntf.notification_type = NotificationType::Report;
    s.insert(std::slice::from_ref(&ntf)).await.unwrap();

    assert!(s.delete::<MonitoringReport>(&rep.report_id).await.unwrap());

    let exe = s
        .get::<WorkflowExecution>(&rec.execution.run_id)
        .await
        .unwrap()
        .expect("execution outlives its report");
    assert_eq!(exe.report_id, None);
    let log = s
        .get::<NotificationLog>(&ntf.log_id)
        .await
        .unwrap()
        .expect("log outlives its report");
    assert_eq!(log.report_id, None);
    assert_eq!(
        log.execution_id.as_deref(),
        Some(rec.execution.run_id.as_str())
    );
}

async fn aggregates_group_count_and_average(db: TestDb) {
    let s = &db.store;
    let batch = vec![
        complete("user-login", ExecutionStatus::Passed, minutes_ago(10), 100),
        complete("user-login", ExecutionStatus::Passed, minutes_ago(20), 300),
        complete("user-login", ExecutionStatus::Failed, minutes_ago(30), 1500),
        complete(
            "farm-creation",
            ExecutionStatus::Passed,
            minutes_ago(40),
            50,
        ),
        // Two days old: outside the last 24 h.
        complete(
            "farm-creation",
            ExecutionStatus::Failed,
            minutes_ago(2 * 24 * 60),
            70,
        ),
    ];
    s.record_executions(&batch).await.unwrap();

    let summary = s.status_summary(None).await.unwrap();
    let row = |w: &str, st: ExecutionStatus| {
        summary
            .iter()
            .find(|r| r.workflow_name == w && r.status == st)
            .cloned()
    };
    let login_passed = row("user-login", ExecutionStatus::Passed).unwrap();
    assert_eq!(login_passed.count, 2);
    assert_eq!(login_passed.avg_duration_ms, Some(200.0));
    assert_eq!(row("user-login", ExecutionStatus::Failed).unwrap().count, 1);
    assert_eq!(
        row("farm-creation", ExecutionStatus::Failed)
            .unwrap()
            .avg_duration_ms,
        Some(70.0)
    );
    assert_eq!(summary.len(), 4);

    let day_ago = Timestamp::now().minus(TimeDelta::hours(24));
    assert_eq!(s.count_executions_since(day_ago).await.unwrap(), 4);
    let recent = s.status_summary(Some(day_ago)).await.unwrap();
    assert_eq!(recent.iter().map(|r| r.count).sum::<i64>(), 4);

    // response_time > 1000 ms threshold only for the 1500 ms run.
    let outside = s.metrics_outside_threshold(day_ago).await.unwrap();
    assert_eq!(outside.len(), 1);
    assert_eq!(outside[0].metric_value, 1500.0);
    assert_eq!(
        outside[0].execution_id.as_deref(),
        Some(batch[2].execution.run_id.as_str())
    );
}

async fn a_failed_transaction_leaves_nothing_behind(db: TestDb) {
    let s = &db.store;
    let good = complete(
        "user-registration",
        ExecutionStatus::Passed,
        minutes_ago(2),
        100,
    );
    let mut bad = complete(
        "user-registration",
        ExecutionStatus::Passed,
        minutes_ago(1),
        100,
    );
    // The last health check of the batch collides with the first one's key: the whole batch
    // must be rolled back, including rows written before the failing statement.
    bad.health_checks[0].check_id = good.health_checks[0].check_id.clone();
    let err = s.record_executions(&[good.clone(), bad]).await.unwrap_err();
    assert!(
        err.to_string().contains("recording 2 execution(s)"),
        "{err}"
    );
    assert_eq!(s.count::<WorkflowExecution>().await.unwrap(), 0);
    assert_eq!(s.count::<WorkflowStepResult>().await.unwrap(), 0);
    assert_eq!(s.count::<WorkflowMetric>().await.unwrap(), 0);
    assert_eq!(s.count::<SystemHealthCheck>().await.unwrap(), 0);

    // A step pointing at no execution violates its foreign key: nothing is written either.
    let mut orphan = complete(
        "user-registration",
        ExecutionStatus::Passed,
        minutes_ago(1),
        100,
    );
    orphan.steps[2].execution_id = "run_does_not_exist".into();
    assert!(s.record_executions(&[orphan]).await.is_err());
    assert_eq!(s.count::<WorkflowExecution>().await.unwrap(), 0);

    // The store is still usable afterwards.
    s.record_executions(&[good]).await.unwrap();
    assert_eq!(s.count::<WorkflowExecution>().await.unwrap(), 1);
}

async fn nulls_and_json_round_trip(db: TestDb) {
    let s = &db.store;
    let now = Timestamp::now();
    let bare = SystemHealthCheck {
        id: new_id("hc"),
        check_id: new_id("chk"),
        check_name: "bare".into(),
        status: HealthStatus::Unhealthy,
        response_time_ms: 0,
        details: None,
        checked_at: now,
        endpoint: None,
        expected_status: None,
        actual_status: None,
        error_message: None,
        metadata: None,
        execution_id: None,
        created_at: now,
    };
    let tricky = j!({
        "nested": {"list": [1, 2.5, -3e10, null, true, "x"], "empty": {}, "none": []},
        "unicode": "réservé ✓ 🚜 \"quoted\" back\\slash\nnewline",
        "big": 9007199254740991_i64,
        "null": null
    });
    let rich = SystemHealthCheck {
        id: new_id("hc"),
        check_id: new_id("chk"),
        check_name: "it's a \"name\" with 'quotes'; DROP TABLE x; --".into(),
        details: Some(json(tricky.clone())),
        metadata: Some(json(j!(null))),
        error_message: Some(String::new()),
        ..bare.clone()
    };
    s.insert(&[bare.clone(), rich.clone()]).await.unwrap();
    assert_eq!(
        s.get::<SystemHealthCheck>(&bare.check_id)
            .await
            .unwrap()
            .unwrap(),
        bare
    );
    let back = s
        .get::<SystemHealthCheck>(&rich.check_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.details.unwrap().0, tricky);
    assert_eq!(back.check_name, rich.check_name);
    assert_eq!(
        back.error_message.as_deref(),
        Some(""),
        "empty text is not NULL"
    );

    let metric = WorkflowMetric {
        metric_unit: None,
        threshold_value: None,
        tags: None,
        metadata: None,
        execution_id: None,
        metric_value: -0.000123,
        ..metric(
            &execution("w", ExecutionStatus::Passed, now, 1),
            "m",
            0.0,
            None,
        )
    };
    s.insert(std::slice::from_ref(&metric)).await.unwrap();
    assert_eq!(
        s.get::<WorkflowMetric>(&metric.id).await.unwrap().unwrap(),
        metric
    );
}

async fn check_constraints_accept_every_enum_value_and_nothing_else(db: TestDb) {
    let s = &db.store;
    let base = execution("enum-check", ExecutionStatus::Passed, minutes_ago(1), 10);
    let rows: Vec<WorkflowExecution> = ExecutionStatus::ALL
        .iter()
        .flat_map(|status| {
            let base = &base;
            TriggeredBy::ALL
                .iter()
                .map(move |trigger| WorkflowExecution {
                    id: new_id("exe"),
                    run_id: new_id("run"),
                    status: *status,
                    triggered_by: *trigger,
                    ..base.clone()
                })
        })
        .collect();
    s.insert(&rows).await.unwrap();
    let checks: Vec<SystemHealthCheck> = HealthStatus::ALL
        .iter()
        .map(|st| health_check(&rows[0], *st))
        .map(|mut c| {
            c.execution_id = None;
            c
        })
        .collect();
    s.insert(&checks).await.unwrap();
    let logs: Vec<NotificationLog> = NotificationChannel::ALL
        .iter()
        .zip(NotificationType::ALL.iter().cycle())
        .zip(NotificationStatus::ALL.iter().cycle())
        .zip(DeliveryStatus::ALL.iter().map(Some).chain([None]).cycle())
        .map(|(((channel, kind), status), delivery)| NotificationLog {
            id: new_id("ntf"),
            log_id: new_id("log"),
            channel: *channel,
            notification_type: *kind,
            status: *status,
            delivery_status: delivery.copied(),
            ..notification(&rows[0])
        })
        .collect();
    assert!(logs.len() >= NotificationType::ALL.len());
    s.insert(&logs).await.unwrap();
    let reports: Vec<MonitoringReport> = ReportType::ALL
        .iter()
        .zip(ReportStatus::ALL.iter().cycle())
        .map(|(kind, status)| MonitoringReport {
            id: new_id("rep"),
            report_id: new_id("report"),
            report_type: *kind,
            status: *status,
            ..report()
        })
        .collect();
    s.insert(&reports).await.unwrap();
    let alerts: Vec<Alert> = AlertStatus::ALL
        .iter()
        .zip(AlertSeverity::ALL.iter().cycle())
        .enumerate()
        .map(|(i, (status, severity))| Alert {
            severity: *severity,
            fingerprint: format!("fp-{i}"),
            ..alert("enum-check", *status)
        })
        .collect();
    s.insert(&alerts).await.unwrap();
    let steps: Vec<WorkflowStepResult> = StepStatus::ALL
        .iter()
        .enumerate()
        .map(|(i, st)| WorkflowStepResult {
            status: *st,
            ..step(&rows[0], i as i32)
        })
        .collect();
    s.insert(&steps).await.unwrap();

    for sql in [
        format!(
            "UPDATE workflow_executions SET status = 'BOGUS' WHERE run_id = '{}'",
            rows[0].run_id
        ),
        format!(
            "UPDATE workflow_executions SET status = 'passed' WHERE run_id = '{}'",
            rows[0].run_id
        ),
        format!(
            "UPDATE workflow_executions SET triggered_by = 'CRON' WHERE run_id = '{}'",
            rows[0].run_id
        ),
        format!(
            "UPDATE system_health_checks SET status = 'UP' WHERE check_id = '{}'",
            checks[0].check_id
        ),
        format!(
            "UPDATE notification_logs SET channel = 'FAX' WHERE log_id = '{}'",
            logs[0].log_id
        ),
        format!(
            "UPDATE notification_logs SET delivery_status = 'MAYBE' WHERE log_id = '{}'",
            logs[0].log_id
        ),
        format!(
            "UPDATE monitoring_reports SET success_rate = 75 WHERE report_id = '{}'",
            reports[0].report_id
        ),
        format!(
            "UPDATE alerts SET severity = 'LOUD' WHERE alert_id = '{}'",
            alerts[0].alert_id
        ),
        format!(
            "UPDATE workflow_step_results SET status = 'MEH' WHERE step_result_id = '{}'",
            steps[0].step_result_id
        ),
        format!(
            "UPDATE workflow_executions SET attempt = 0 WHERE run_id = '{}'",
            rows[0].run_id
        ),
    ] {
        assert!(db.exec(&sql).await.is_err(), "the database accepted: {sql}");
    }
}

async fn one_open_alert_per_fingerprint(db: TestDb) {
    let s = &db.store;
    let first = alert("user-login", AlertStatus::Active);
    s.insert(std::slice::from_ref(&first)).await.unwrap();
    let second = alert("user-login", AlertStatus::Acknowledged);
    assert!(
        s.insert(std::slice::from_ref(&second)).await.is_err(),
        "two open alerts for one fingerprint"
    );
    let resolved = Alert {
        status: AlertStatus::Resolved,
        resolved_at: Some(Timestamp::now()),
        ..first.clone()
    };
    s.upsert(std::slice::from_ref(&resolved)).await.unwrap();
    s.insert(std::slice::from_ref(&second)).await.unwrap();
    let old = alert("user-login", AlertStatus::Resolved);
    s.insert(std::slice::from_ref(&old)).await.unwrap();
    assert_eq!(s.count::<Alert>().await.unwrap(), 3);
}

async fn updated_at_is_maintained_by_the_database(db: TestDb) {
    let s = &db.store;
    let mut exe = execution("w", ExecutionStatus::Running, minutes_ago(1), 10);
    let long_ago = Timestamp::from_unix_millis(1_600_000_000_000).unwrap();
    exe.created_at = long_ago;
    exe.updated_at = long_ago;
    s.insert(std::slice::from_ref(&exe)).await.unwrap();
    assert_eq!(
        s.get::<WorkflowExecution>(&exe.run_id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        long_ago
    );
    let before = Timestamp::now().minus(TimeDelta::seconds(5));
    exe.status = ExecutionStatus::Passed;
    s.upsert(std::slice::from_ref(&exe)).await.unwrap();
    let back = s
        .get::<WorkflowExecution>(&exe.run_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        back.updated_at > before,
        "upsert bumps updated_at: {}",
        back.updated_at
    );
    assert_eq!(back.created_at, long_ago, "created_at is never rewritten");
    // Any other write path too.
    db.exec(&format!("UPDATE workflow_executions SET updated_at = '2001-01-01T00:00:00.000Z', tests_total = 9 WHERE run_id = '{}'", exe.run_id))
        .await
        .unwrap();
    let back = s
        .get::<WorkflowExecution>(&exe.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.tests_total, 9);
    assert!(
        back.updated_at > before,
        "a raw UPDATE bumps updated_at too: {}",
        back.updated_at
    );
}

async fn drift_is_reported_with_table_column_and_fix(db: TestDb) {
    assert!(db.store.check_schema().await.unwrap().is_ok());
    db.exec("ALTER TABLE workflow_metrics RENAME COLUMN metric_unit TO unit")
        .await
        .unwrap();
    db.exec("ALTER TABLE workflow_executions DROP COLUMN error_stack")
        .await
        .unwrap();
    if db.store.backend() == wfmon_store::Backend::Postgres {
        db.exec("ALTER TABLE workflow_executions ALTER COLUMN duration_ms TYPE TEXT")
            .await
            .unwrap();
        db.exec("ALTER TABLE system_health_checks ALTER COLUMN check_name DROP NOT NULL")
            .await
            .unwrap();
    }
    let report = db.store.check_schema().await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report.problems.iter().any(|p| matches!(
            p,
            SchemaProblem::MissingColumn {
                table: "workflow_metrics",
                column: "metric_unit",
                ..
            }
        )),
        "{report}"
    );
    assert!(
        report.problems.iter().any(|p| matches!(
            p,
            SchemaProblem::MissingColumn {
                table: "workflow_executions",
                column: "error_stack",
                ..
            }
        )),
        "{report}"
    );
    if db.store.backend() == wfmon_store::Backend::Postgres {
        assert!(
            report.problems.contains(&SchemaProblem::WrongType {
                table: "workflow_executions",
                column: "duration_ms",
                expected: "integer".into(),
                found: "text".into(),
            }),
            "{report}"
        );
        assert!(report.problems.contains(&SchemaProblem::Nullable {
            table: "system_health_checks",
            column: "check_name"
        }));
    }
    let text = report.to_string();
    assert!(text.contains("workflow_metrics.metric_unit"), "{text}");
    assert!(text.contains("wfmon db migrate"), "{text}");

    // Opening refuses the drifted database, whatever the mode.
    for mode in [OpenMode::Existing, OpenMode::Create] {
        match Store::open(&db.url, mode).await {
            Err(StoreError::Drift(r)) => assert_eq!(r, report),
            other => panic!("expected drift, got {other:?}"),
        }
    }
}

async fn a_foreign_not_null_column_without_default_is_drift(db: TestDb) {
    let postgres = db.store.backend() == wfmon_store::Backend::Postgres;
    // Another tool's columns: one NOT NULL without a default (no insert of wfmon's can give
    // it a value), one with a default and one nullable (both harmless).
    let time = if postgres { "TIMESTAMPTZ(3)" } else { "TEXT" };
    db.exec(&format!(
        "DROP TABLE prune_marks; CREATE TABLE prune_marks (id TEXT NOT NULL PRIMARY KEY, \
         table_name TEXT NOT NULL UNIQUE, pruned_before {time} NOT NULL, \
         updated_at {time} NOT NULL DEFAULT CURRENT_TIMESTAMP, owner TEXT NOT NULL, \
         region TEXT NOT NULL DEFAULT 'eu', note TEXT)"
    ))
    .await
    .unwrap();
    if postgres {
        db.exec(
            "ALTER TABLE workflow_executions ADD COLUMN browser TEXT NOT NULL DEFAULT 'chrome'; \
             ALTER TABLE workflow_executions ALTER COLUMN browser DROP DEFAULT; \
             ALTER TABLE workflow_executions ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY",
        )
        .await
        .unwrap();
    }
    let report = db.store.check_schema().await.unwrap();
    let mut expected = vec![SchemaProblem::UnknownRequired {
        table: "prune_marks",
        column: "owner".into(),
    }];
    if postgres {
        expected.insert(
            0,
            SchemaProblem::UnknownRequired {
                table: "workflow_executions",
                column: "browser".into(),
            },
        );
    }
    assert_eq!(report.problems, expected, "{report}");
    let text = report.to_string();
    assert!(text.contains("prune_marks.owner"), "{text}");
    assert!(
        text.contains("give it a default or drop its NOT NULL"),
        "{text}"
    );
    assert!(report.fix().contains("default"), "{text}");
    match Store::open(&db.url, OpenMode::Existing).await {
        Err(StoreError::Drift(r)) => assert_eq!(r, report),
        other => panic!("expected drift, got {other:?}"),
    }
    // What the check foresees: wfmon's insert fails.
    let mark = PruneMark {
        id: new_id("pm"),
        table_name: "workflow_executions".into(),
        pruned_before: Timestamp::now(),
        updated_at: Timestamp::now(),
    };
    let err = db.store.insert(&[mark]).await.unwrap_err().to_string();
    assert!(err.contains("owner"), "{err}");
}

async fn a_newer_schema_is_refused(db: TestDb) {
    db.exec("INSERT INTO wfmon_migrations (version, name) VALUES (99, 'from_the_future')")
        .await
        .unwrap();
    let report = db.store.check_schema().await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, SchemaProblem::TooNew { found: 99, .. })),
        "{report}"
    );
    assert!(report.to_string().contains("upgrade wfmon"), "{report}");
    assert!(matches!(
        db.store.migrate().await,
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
    assert!(matches!(
        Store::open(&db.url, OpenMode::Existing).await,
        Err(StoreError::Drift(_))
    ));
}

async fn executions_filter_and_paginate(db: TestDb) {
    let s = &db.store;
    let base = Timestamp::now().minus(TimeDelta::hours(1));
    let mut batch = Vec::new();
    for i in 0..25 {
        let status = if i % 5 == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Passed
        };
        let workflow = if i % 2 == 0 {
            "user-login"
        } else {
            "order-placement"
        };
        // Pairs share a start time, so the cursor must break ties by run id.
        let mut rec = complete(workflow, status, base.plus(TimeDelta::seconds(i / 2)), 10);
        if i % 3 == 0 {
            rec.execution.environment = "staging".into();
        }
        batch.push(rec);
    }
    s.record_executions(&batch).await.unwrap();

    let all = s
        .list_executions(&ExecutionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 25);
    assert!(
        all.windows(2)
            .all(|w| (w[0].started_at, &w[0].run_id) > (w[1].started_at, &w[1].run_id))
    );

    let mut seen = Vec::new();
    let mut filter = ExecutionFilter {
        limit: Some(7),
        ..Default::default()
    };
    loop {
        let page = s.list_executions(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        filter.before = Some((last.started_at, last.run_id.clone()));
        seen.extend(page.into_iter().map(|e| e.run_id));
    }
    assert_eq!(
        seen,
        all.iter().map(|e| e.run_id.clone()).collect::<Vec<_>>(),
        "pages cover every row once, in order"
    );

    let failed_login = s
        .list_executions(&ExecutionFilter {
            workflow: Some("user-login".into()),
            status: Some(ExecutionStatus::Failed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed_login.len(), 3); // i = 0, 10, 20
    let staging = s
        .list_executions(&ExecutionFilter {
            environment: Some("staging".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(staging.len(), 9); // i = 0, 3, ..., 24
    let window = s
        .list_executions(&ExecutionFilter {
            since: Some(base.plus(TimeDelta::seconds(2))),
            until: Some(base.plus(TimeDelta::seconds(4))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 4); // i = 4, 5, 6, 7
}

async fn prune_removes_old_results_and_keeps_reports_and_rollups(db: TestDb) {
    let s = &db.store;
    let old = complete(
        "health-check",
        ExecutionStatus::Passed,
        minutes_ago(40 * 24 * 60),
        10,
    );
    let recent = complete("health-check", ExecutionStatus::Passed, minutes_ago(60), 10);
    let mut stuck = execution(
        "health-check",
        ExecutionStatus::Running,
        minutes_ago(41 * 24 * 60),
        10,
    );
    stuck.completed_at = None;
    s.record_executions(&[old.clone(), recent.clone()])
        .await
        .unwrap();
    s.start_execution(&stuck).await.unwrap();
    let mut old_log = notification(&old.execution);
    old_log.sent_at = minutes_ago(40 * 24 * 60);
    s.insert(std::slice::from_ref(&old_log)).await.unwrap();
    let rep = MonitoringReport {
        start_time: minutes_ago(50 * 24 * 60),
        ..report()
    };
    s.insert(std::slice::from_ref(&rep)).await.unwrap();
    let rollup = WorkflowRollup {
        id: new_id("rol"),
        bucket: RollupBucket::Hour,
        bucket_start: minutes_ago(40 * 24 * 60),
        workflow_name: "health-check".into(),
        environment: "production".into(),
        runs: 1,
        passed: 1,
        failed: 0,
        warnings: 0,
        duration_sum_ms: 10,
        duration_min_ms: Some(10),
        duration_max_ms: Some(10),
        duration_sketch: None,
        minutes_measured: 0,
        minutes_up: 0,
        updated_at: Timestamp::now(),
    };
    s.insert(std::slice::from_ref(&rollup)).await.unwrap();

    let cutoff = Timestamp::now().minus(TimeDelta::days(30));
    let dry = s.prune(cutoff, true).await.unwrap();
    assert_eq!(
        (
            dry.executions,
            dry.step_results,
            dry.metrics,
            dry.health_checks,
            dry.notification_logs
        ),
        (1, 3, 2, 1, 1)
    );
    assert_eq!(
        s.count::<WorkflowExecution>().await.unwrap(),
        3,
        "a dry run deletes nothing"
    );

    let done = s.prune(cutoff, false).await.unwrap();
    assert_eq!(done, dry);
    assert_eq!(
        s.get::<WorkflowExecution>(&old.execution.run_id)
            .await
            .unwrap(),
        None
    );
    assert!(
        s.get::<WorkflowExecution>(&recent.execution.run_id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.get::<WorkflowExecution>(&stuck.run_id)
            .await
            .unwrap()
            .is_some(),
        "runs in progress are kept"
    );
    assert_eq!(s.count::<WorkflowStepResult>().await.unwrap(), 3);
    assert_eq!(s.count::<WorkflowMetric>().await.unwrap(), 2);
    assert_eq!(s.count::<NotificationLog>().await.unwrap(), 0);
    assert!(
        s.get::<MonitoringReport>(&rep.report_id)
            .await
            .unwrap()
            .is_some(),
        "reports are kept"
    );
    assert!(
        s.get::<WorkflowRollup>(&rollup.id).await.unwrap().is_some(),
        "rollups are kept"
    );
}

async fn stats_count_rows_and_time_range(db: TestDb) {
    let s = &db.store;
    let a = complete("w", ExecutionStatus::Passed, minutes_ago(10), 10);
    let mut b = complete("w", ExecutionStatus::Passed, minutes_ago(5), 10);
    b.execution.created_at = Timestamp::now().plus(TimeDelta::seconds(1));
    s.record_executions(&[a.clone(), b.clone()]).await.unwrap();
    let stats = s.stats().await.unwrap();
    let exe = stats
        .iter()
        .find(|t| t.table == "workflow_executions")
        .unwrap();
    assert_eq!(exe.rows, 2);
    assert_eq!(exe.oldest, Some(a.execution.created_at));
    assert_eq!(exe.newest, Some(b.execution.created_at));
    assert_eq!(
        stats
            .iter()
            .find(|t| t.table == "workflow_step_results")
            .unwrap()
            .rows,
        6
    );
    assert_eq!(stats.iter().find(|t| t.table == "alerts").unwrap().rows, 0);
    assert_eq!(stats.len(), ALL_TABLES.len());
    assert!(s.database_size().await.unwrap() > 0);
}

async fn timestamps_keep_milliseconds_and_order(db: TestDb) {
    let s = &db.store;
    let t0 = Timestamp::from_unix_millis(1_767_225_599_999).unwrap(); // 2025-12-31T23:59:59.999Z
    let mut rows = Vec::new();
    for (i, offset) in [0i64, 1, 9, 10, 999, 1000, 86_400_000]
        .into_iter()
        .enumerate()
    {
        let mut e = execution(
            "ts",
            ExecutionStatus::Passed,
            t0.plus(TimeDelta::milliseconds(offset)),
            1,
        );
        e.run_id = format!("run_ts_{i}");
        rows.push(e);
    }
    s.insert(&rows).await.unwrap();
    let back = s
        .list_executions(&ExecutionFilter {
            workflow: Some("ts".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut expected: Vec<_> = rows.iter().map(|e| e.started_at).collect();
    expected.reverse();
    assert_eq!(
        back.iter().map(|e| e.started_at).collect::<Vec<_>>(),
        expected
    );
    let exact = s
        .list_executions(&ExecutionFilter {
            workflow: Some("ts".into()),
            since: Some(t0.plus(TimeDelta::milliseconds(9))),
            until: Some(t0.plus(TimeDelta::milliseconds(1000))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exact.len(), 3, "9, 10 and 999 ms");
}
