//! `wfmon bench seed` and `wfmon bench analytics` as a user runs them, on a small SQLite
//! store: the seed holds what it says (executions, their step results, rollups), and the
//! analytics benchmark finds wfmon's figures equal to the raw rows' (it exits non-zero when
//! they disagree).

mod common;

use common::{text, wfmon};
use wfmon_store::{DatabaseUrl, OpenMode, Store};

#[tokio::test]
async fn a_seeded_store_has_steps_and_rollups_and_its_figures_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("sqlite://{}", d.join("seed.db").display());
    let out = wfmon(
        d,
        &[
            "bench",
            "seed",
            "--database",
            &url,
            "--executions",
            "3000",
            "--days",
            "3",
            "--workflows",
            "4",
            "--steps",
            "3",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let store = Store::open(&DatabaseUrl::parse(&url).unwrap(), OpenMode::Existing)
        .await
        .unwrap();
    let count = |sql: &str| {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let url = url.clone();
        async move {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM workflow_executions").await,
        3000
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM workflow_step_results").await,
        9000
    );
    // Each run's steps share its duration; a failed run's last step failed its assertion.
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM workflow_executions e WHERE e.duration_ms <> \
             (SELECT SUM(s.duration_ms) FROM workflow_step_results s WHERE s.execution_id = e.run_id)"
        )
        .await,
        0
    );
    let failed = count("SELECT COUNT(*) FROM workflow_executions WHERE status = 'FAILED'").await;
    assert!(failed > 0);
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM workflow_step_results WHERE status = 'FAILED' \
             AND step_name = 'step-3' AND failed_assertion = 'status == 200'"
        )
        .await,
        failed
    );
    assert_eq!(
        count("SELECT SUM(runs) FROM workflow_rollups WHERE bucket = 'DAY'").await,
        3000
    );
    store.close().await;

    let out = wfmon(
        d,
        &[
            "bench",
            "analytics",
            "--database",
            &url,
            "--repetitions",
            "1",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let measurements = report["measurements"].as_array().unwrap();
    assert_eq!(measurements.len(), 3, "{report}");
    for m in measurements {
        assert_eq!(m["agrees"], true, "{m}");
        assert!(m["rawRows"].as_i64().unwrap() > 0, "{m}");
    }
    assert!(
        measurements[2]["what"].as_str().unwrap().contains("uptime"),
        "{report}"
    );
}
