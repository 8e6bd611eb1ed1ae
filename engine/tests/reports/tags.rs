//! Reports filtered by workflow tag: a `reports:` schedule's `tags` validated against the
//! configured workflows, resolved to their names, and only those workflows' runs, steps,
//! alerts and links in the report, on both backends.

use std::path::Path;

use wfmon_engine::config::Config;
use wfmon_engine::reports::{self, ReportError};
use wfmon_store::SavedReport;

use crate::db::TestDb;
use crate::figures::{fixture, request, window};
use crate::on_both_backends;

on_both_backends!(a_tag_filter_covers_only_the_tagged_workflows);

const TAGGED: &str = r#"
environments:
  production: {}
  staging: {}
workflows:
  - name: checkout
    tags: [shop, critical]
    steps:
      - name: cart
        health: {url: "http://127.0.0.1:9/cart"}
  - name: login
    tags: [auth, critical]
    steps:
      - name: submit
        health: {url: "http://127.0.0.1:9/login"}
"#;

fn config(reports: &str) -> Result<Config, String> {
    Config::parse(&format!("{TAGGED}{reports}"), Path::new("wfmon.yaml")).map_err(|e| e.to_string())
}

#[test]
fn report_tags_must_belong_to_a_workflow() {
    let ok = config("reports:\n  - {name: shop, schedule: daily, tags: [shop]}\n").unwrap();
    assert_eq!(ok.reports[0].tags, ["shop"]);
    let err = config("reports:\n  - {name: shop, schedule: daily, tags: [shop, payments]}\n")
        .unwrap_err();
    assert!(
        err.contains(
            "wfmon.yaml:17:48: reports[0].tags[1]: unknown tag `payments`: no workflow has it"
        ),
        "{err}"
    );
}

async fn a_tag_filter_covers_only_the_tagged_workflows(db: TestDb) {
    fixture(&db.store).await;
    let config = config("").unwrap();
    let tags = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();

    assert_eq!(reports::tagged_workflows(&config, &[]).unwrap(), None);
    assert_eq!(
        reports::tagged_workflows(&config, &tags(&["critical"])).unwrap(),
        Some(vec!["checkout".to_owned(), "login".to_owned()])
    );
    match reports::tagged_workflows(&config, &tags(&["nope"])) {
        Err(e @ ReportError::UnknownTag(_)) => {
            assert_eq!(
                e.to_string(),
                "unknown tag `nope`: no workflow in the configuration has it"
            )
        }
        other => panic!("{other:?}"),
    }

    // Tag `auth`: login only (3 runs: 2 passed; its step `submit` failed once; no alert).
    let mut scope = window();
    scope.workflows = reports::tagged_workflows(&config, &tags(&["auth"])).unwrap();
    let mut req = request(scope.clone());
    req.tags = tags(&["auth"]);
    let report = reports::compute(&db.store, &req).await.unwrap();
    let r = &report.row;
    assert_eq!((r.total_runs, r.successful_runs, r.failed_runs), (3, 2, 1));
    let m = &report.metadata;
    let names: Vec<&str> = m.workflows.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["login"]);
    let steps: Vec<&str> = m.failing_steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["submit"]);
    assert_eq!((m.alerts.opened, m.alerts.open_at_end), (0, 0));
    assert_eq!(m.tags, ["auth"]);
    assert!(
        reports::render(&report, reports::ReportFormat::Table).contains("tags auth"),
        "the title names the tag"
    );

    // Tag `shop` and workflow `login` at once: nothing in common, no runs.
    let mut both = scope.clone();
    both.workflows = Some(vec!["checkout".into()]);
    both.workflow = Some("login".into());
    let empty = reports::compute(&db.store, &request(both)).await.unwrap();
    assert_eq!(empty.row.total_runs, 0);

    // Tag `shop`: checkout's 4 runs and its alerts; saving links only its executions.
    let mut shop = window();
    shop.workflows = reports::tagged_workflows(&config, &tags(&["shop"])).unwrap();
    let report = reports::compute(&db.store, &request(shop.clone()))
        .await
        .unwrap();
    assert_eq!(report.row.total_runs, 4);
    assert_eq!(report.metadata.alerts.opened, 2);
    match reports::save(&db.store, &report, &shop, &[]).await.unwrap() {
        SavedReport::Created { linked } => assert_eq!(linked, 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        db.store
            .count_report_executions(&report.row.report_id)
            .await
            .unwrap(),
        4
    );
}
