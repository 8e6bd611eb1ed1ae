//! The dashboard's pages against the real router on both backends: each page renders from
//! the store with the strict content policy, everything attacker-controlled (workflow
//! names, error messages, assertion values) is escaped, secrets are replaced, bad input is
//! an error page naming the parameter, and the script and stylesheet are served.

mod common;

use common::*;
use wfmon_model::*;

on_both_backends!(
    every_page_renders_with_the_strict_policy,
    hostile_text_is_escaped_and_secrets_are_replaced,
    bad_input_gets_an_error_page_naming_what,
    every_link_in_an_alerts_notifications_opens_a_page,
    an_alert_offers_only_the_actions_its_state_allows,
);

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'";

async fn page(api: &TestApi, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let response = api.client.get(api.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

async fn every_page_renders_with_the_strict_policy(api: TestApi) {
    let exe = execution(
        "quick",
        "production",
        ExecutionStatus::Failed,
        minutes_ago(5),
        Some(120),
    );
    api.store.insert(std::slice::from_ref(&exe)).await.unwrap();
    api.store.insert(&[step(&exe, 0)]).await.unwrap();
    let open = alert("quick", AlertStatus::Active);
    api.store.insert(std::slice::from_ref(&open)).await.unwrap();
    let now = Timestamp::now();
    let report = MonitoringReport {
        id: new_id("rep"),
        report_id: new_id("report"),
        start_time: minutes_ago(60 * 24),
        end_time: now,
        total_runs: 10,
        successful_runs: 9,
        failed_runs: 1,
        total_duration_ms: 1000,
        avg_duration_ms: 100.0,
        success_rate: 0.9,
        status: ReportStatus::Completed,
        report_type: ReportType::Daily,
        generated_at: now,
        notified: false,
        notified_at: None,
        metadata: Some(json(serde_json::json!({"slowest": "quick"}))),
        created_at: now,
        updated_at: now,
    };
    api.store
        .insert(std::slice::from_ref(&report))
        .await
        .unwrap();

    let pages = [
        (
            "/".to_owned(),
            vec![
                "Overview",
                "quick",
                "FAILED",
                "open alerts",
                "class=\"spark\"",
            ],
        ),
        (
            "/workflows/quick".to_owned(),
            vec![
                "Run now",
                "Pause",
                "Success rate per hour",
                "expected status 200, got 500",
                // Its objectives: the failed run spends the 1% budget 100 times over.
                "Service level objectives",
                "quick-availability",
                "quick-latency",
                "99.0% passing over 1d",
                "90.0% under 500 ms over 6h",
                "100.00x",
            ],
        ),
        (
            "/workflows/quick?window=1h".to_owned(),
            vec!["Success rate per minute"],
        ),
        (
            "/workflows/quick?window=30d".to_owned(),
            vec!["p95 duration per day, last 30d"],
        ),
        (
            format!("/executions/{}", exe.run_id),
            vec!["step-0", "status == 200", "expected status 200, got 500"],
        ),
        (
            "/alerts".to_owned(),
            vec!["Acknowledge", "Resolve", "Silence", &open.alert_id],
        ),
        (
            "/alerts?status=RESOLVED".to_owned(),
            vec!["No alerts match"],
        ),
        ("/reports".to_owned(), vec!["DAILY", "90.0%"]),
        (
            format!("/reports/{}", report.report_id),
            vec!["slowest", "90.0%"],
        ),
    ];
    for (path, expected) in pages {
        let (status, html, headers) = page(&api, &path).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert_eq!(headers["content-security-policy"], POLICY, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(html.starts_with("<!doctype html>"), "{path}");
        assert!(html.contains("<main id=\"main\""), "{path}");
        assert!(html.contains("class=\"skip\" href=\"#main\""), "{path}");
        assert!(html.contains("aria-live=\"polite\""), "{path}");
        for text in expected {
            assert!(html.contains(text), "{path}: `{text}` missing");
        }
        assert!(
            !html.contains("style=\""),
            "{path}: inline styles break the policy"
        );
        assert!(
            !html.contains("<script>"),
            "{path}: inline scripts break the policy"
        );
    }
    // The alert count in the navigation.
    let (_, html, _) = page(&api, "/").await;
    assert!(html.contains("id=\"nav-alerts\""));

    let response = api
        .client
        .get(api.url("/assets/dash.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let script = response.text().await.unwrap();
    assert!(script.contains("X-CSRF-Token") && script.contains("/api/events"));
    let response = api
        .client
        .get(api.url("/assets/dash.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
}

async fn hostile_text_is_escaped_and_secrets_are_replaced(api: TestApi) {
    let name = "<script>alert('w')</script>";
    let mut exe = execution(
        name,
        "production",
        ExecutionStatus::Failed,
        minutes_ago(3),
        Some(50),
    );
    exe.error_message = Some(format!(
        "<img src=x onerror=alert(1)> token {SECRET} \"quoted\""
    ));
    api.store.insert(std::slice::from_ref(&exe)).await.unwrap();
    // Raw inserts bypass the recorder, which keeps the rollups the overview reads.
    api.store.rebuild_rollups(None, None).await.unwrap();
    let mut s = step(&exe, 0);
    s.step_name = "<b>step</b>".into();
    s.assertions = Some(json(serde_json::json!([
        {"expression": "body.x == '<svg onload=1>'", "passed": false,
         "expected": "<svg onload=1>", "actual": format!("</td><script>{SECRET}")}
    ])));
    api.store.insert(&[s]).await.unwrap();
    let mut a = alert(name, AlertStatus::Active);
    a.message = "<iframe src=//evil>".into();
    api.store.insert(&[a]).await.unwrap();

    let encoded = "%3Cscript%3Ealert%28%27w%27%29%3C%2Fscript%3E";
    for path in [
        "/".to_owned(),
        format!("/workflows/{encoded}"),
        format!("/executions/{}", exe.run_id),
        "/alerts".to_owned(),
    ] {
        let (status, html, _) = page(&api, &path).await;
        assert_eq!(status, 200, "{path}: {html}");
        for raw in [
            "<script>alert",
            "<img src=x",
            "<iframe",
            "<svg onload",
            "<b>step",
            "</td><script>",
        ] {
            assert!(!html.contains(raw), "{path}: `{raw}` is not escaped");
        }
        assert!(!html.contains(SECRET), "{path}: the secret leaked");
    }
    let (_, html, _) = page(&api, &format!("/executions/{}", exe.run_id)).await;
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; token *** &quot;quoted&quot;"),
        "{html}"
    );
    assert!(html.contains("&lt;svg onload=1&gt;"));
    let (_, html, _) = page(&api, "/").await;
    assert!(html.contains("&lt;script&gt;alert(&#39;w&#39;)&lt;/script&gt;"));
    assert!(
        html.contains(&format!("href=\"/workflows/{encoded}\"")),
        "links are percent-encoded"
    );
}

async fn bad_input_gets_an_error_page_naming_what(api: TestApi) {
    for (path, status, text) in [
        ("/workflows/nope", 404, "no workflow `nope`"),
        ("/executions/run_nope", 404, "no execution `run_nope`"),
        ("/reports/report_nope", 404, "no report `report_nope`"),
        ("/alerts/alert_nope", 404, "no alert `alert_nope`"),
        ("/alerts/alert_nope?x=1", 400, "unknown parameter `x`"),
        ("/workflows/quick?window=2h", 400, "`window`"),
        ("/alerts?status=BOGUS", 400, "`status`"),
        ("/alerts?x=1", 400, "unknown parameter `x`"),
        ("/reports?type=weird", 400, "`type`"),
        ("/?limit=1", 400, "unknown parameter `limit`"),
        (
            "/workflows/%3Cscript%3E",
            404,
            "no workflow `&lt;script&gt;`",
        ),
    ] {
        let (got, html, headers) = page(&api, path).await;
        assert_eq!(got, status, "{path}: {html}");
        assert_eq!(headers["content-security-policy"], POLICY);
        assert!(html.contains(text), "{path}: `{text}` not in {html}");
    }
}

/// The alert engine links its messages to the dashboard: the alert to the failed run, the
/// escalation and the reminder to the alert, the recovery to the passing run. Every one of
/// those links opens a page about it, the alert's with its actions and its notifications.
async fn every_link_in_an_alerts_notifications_opens_a_page(api: TestApi) {
    use std::sync::Arc;
    use wfmon_engine::alerting::AlertEvaluator;
    use wfmon_engine::config::Config;

    const DASHBOARD: &str = "https://wfmon.example.com";
    let config = Config::parse(
        &format!(
            r#"
environments:
  production: {{}}
workflows:
  - name: quick
    steps:
      - name: truth
        command: {{run: ["true"]}}
notifications:
  dashboard_url: {DASHBOARD}
  channels:
    log: {{console: {{}}}}
alerts:
  rules:
    - name: quick-failing
      workflows: [quick]
      when: {{consecutive_failures: 1}}
      recover_after: 1
      channels: [log]
      escalate_after: 100ms
      escalate_to: [log]
      remind_every: 100ms
"#
        ),
        std::path::Path::new("links.yaml"),
    )
    .unwrap();
    let evaluator = AlertEvaluator::new(
        api.store.clone(),
        Arc::new(config),
        Arc::new(tokio::sync::Notify::new()),
    );
    let run = |status| {
        let exe = execution("quick", "production", status, Timestamp::now(), Some(20));
        let step = step(&exe, 0);
        (exe, step)
    };
    let (failed, failed_step) = run(ExecutionStatus::Failed);
    api.store
        .insert(std::slice::from_ref(&failed))
        .await
        .unwrap();
    api.store.insert(&[failed_step]).await.unwrap();
    evaluator.on_execution(&failed).await.unwrap();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        evaluator.tick(Timestamp::now()).await.unwrap();
    }
    let (passed, passed_step) = run(ExecutionStatus::Passed);
    api.store
        .insert(std::slice::from_ref(&passed))
        .await
        .unwrap();
    api.store.insert(&[passed_step]).await.unwrap();
    evaluator.on_execution(&passed).await.unwrap();

    let rows = api
        .store
        .recent_notifications(None, None, 50)
        .await
        .unwrap();
    let alert_id = rows
        .iter()
        .find_map(|r| r.alert_id.clone())
        .expect("notifications about the alert");
    let mut kinds = Vec::new();
    for row in &rows {
        let link = row.metadata.as_ref().unwrap().0["notice"]["link"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no link", row.notification_type))
            .to_owned();
        let path = link
            .strip_prefix(DASHBOARD)
            .unwrap_or_else(|| panic!("{link} is not on the dashboard"));
        let (status, html, _) = page(&api, path).await;
        assert_eq!(
            status, 200,
            "{} links to {path}: {html}",
            row.notification_type
        );
        match row.notification_type {
            NotificationType::Alert => assert_eq!(path, format!("/executions/{}", failed.run_id)),
            NotificationType::Recovery => {
                assert_eq!(path, format!("/executions/{}", passed.run_id))
            }
            _ => {
                assert_eq!(path, format!("/alerts/{alert_id}"));
                for text in [
                    alert_id.as_str(),
                    "quick",
                    "RESOLVED",
                    "Notifications",
                    "ESCALATION",
                    "REMINDER",
                ] {
                    assert!(html.contains(text), "{path}: `{text}` missing");
                }
            }
        }
        kinds.push(row.notification_type);
    }
    for kind in [
        NotificationType::Alert,
        NotificationType::Escalation,
        NotificationType::Reminder,
        NotificationType::Recovery,
    ] {
        assert!(kinds.contains(&kind), "no {kind} among {kinds:?}");
    }
}

async fn an_alert_offers_only_the_actions_its_state_allows(api: TestApi) {
    // Silenced and not acknowledged: acknowledge, resolve. Silenced after an acknowledgement:
    // resolve only (acknowledging it again would be refused).
    let open = alert("quick", AlertStatus::Silenced);
    let mut acknowledged = alert("slow", AlertStatus::Silenced);
    acknowledged.acknowledged_by = Some("alice".into());
    acknowledged.acknowledged_at = Some(Timestamp::now());
    api.store
        .insert(&[open.clone(), acknowledged.clone()])
        .await
        .unwrap();
    for (a, offers_ack) in [(&open, true), (&acknowledged, false)] {
        let (status, body, _) = page(&api, &format!("/alerts/{}", a.alert_id)).await;
        assert_eq!(status, 200, "{body}");
        let ack = format!("/api/alerts/{}/acknowledge", a.alert_id);
        assert_eq!(body.contains(&ack), offers_ack, "{body}");
        assert!(
            body.contains(&format!("/api/alerts/{}/resolve", a.alert_id)),
            "{body}"
        );
    }
}
