//! Workflows and schedules through the API, the same test bodies on SQLite and PostgreSQL:
//! pause and resume kept in the database, runs started on request recorded, definitions
//! described without secrets.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use wfmon_model::*;

on_both_backends!(
    pause_and_resume_are_kept_in_the_database,
    a_run_started_by_the_api_is_recorded,
    workflows_are_described_without_secrets,
);

async fn pause_and_resume_are_kept_in_the_database(api: TestApi) {
    let (status, body) = api.post("/api/schedules/quick@staging/pause", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["paused"].as_bool(), body["enabled"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(body["pausedBy"], "api");
    let row = api
        .store
        .get::<WorkflowSchedule>("quick@staging")
        .await
        .unwrap()
        .unwrap();
    assert!(wfmon_store::is_paused(&row) && !row.enabled);
    let other = api
        .store
        .get::<WorkflowSchedule>("quick@production")
        .await
        .unwrap()
        .unwrap();
    assert!(other.enabled, "only the one schedule");

    let (_, list) = api.get("/api/workflows").await;
    let quick = &list["items"][0];
    let staging = quick["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["environment"] == "staging")
        .unwrap();
    assert_eq!(staging["paused"], true);

    let (status, body) = api.post("/api/schedules/quick@staging/resume", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["paused"].as_bool(), body["enabled"].as_bool()),
        (Some(false), Some(true))
    );
    let row = api
        .store
        .get::<WorkflowSchedule>("quick@staging")
        .await
        .unwrap()
        .unwrap();
    assert!(!wfmon_store::is_paused(&row) && row.enabled);
    let next = row.next_run_at.expect("due again");
    assert!(next > Timestamp::now() && next <= Timestamp::now().plus(TimeDelta::minutes(5)));

    let (status, body) = api.post("/api/schedules/nope@production/pause", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    // A row the configuration no longer defines stays as it is.
    let mut gone = api
        .store
        .get::<WorkflowSchedule>("quick@production")
        .await
        .unwrap()
        .unwrap();
    gone.schedule_id = "retired@production".into();
    gone.workflow_name = "retired".into();
    gone.id = new_id("sch");
    gone.enabled = false;
    api.store.insert(std::slice::from_ref(&gone)).await.unwrap();
    let (status, body) = api
        .post("/api/schedules/retired@production/resume", None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("not_configured")),
        "{body}"
    );
    let row = api
        .store
        .get::<WorkflowSchedule>("retired@production")
        .await
        .unwrap()
        .unwrap();
    assert!(!row.enabled);
}
async fn a_run_started_by_the_api_is_recorded(api: TestApi) {
    let (status, body) = api
        .post(
            "/api/workflows/quick/run",
            Some("{\"environment\": \"staging\"}"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let runs = body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["environment"], "staging");
    let run_id = runs[0]["runId"].as_str().unwrap().to_owned();
    let recorded = wait_for_final(&api, &run_id).await;
    assert_eq!(recorded.status, ExecutionStatus::Passed);
    assert_eq!(recorded.triggered_by, TriggeredBy::Api);
    assert_eq!(recorded.environment, "staging");
    let (status, body) = api.get(&format!("/api/executions/{run_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["steps"][0]["stepName"], "truth");

    // Without an environment: one run per environment of the workflow; an empty body is fine.
    let (status, body) = api.post("/api/workflows/quick/run", None).await;
    assert_eq!(status, 202, "{body}");
    let environments: BTreeSet<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["environment"].as_str().unwrap())
        .collect();
    assert_eq!(environments, BTreeSet::from(["production", "staging"]));
    for run in body["runs"].as_array().unwrap() {
        wait_for_final(&api, run["runId"].as_str().unwrap()).await;
    }
}

/// Waits until the run's execution is written with a final status.
async fn wait_for_final(api: &TestApi, run_id: &str) -> WorkflowExecution {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(row) = api.store.get::<WorkflowExecution>(run_id).await.unwrap()
            && row.status.is_final()
        {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{run_id} was not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
async fn workflows_are_described_without_secrets(api: TestApi) {
    let failed = {
        let mut e = execution(
            "secretive",
            "production",
            ExecutionStatus::Failed,
            minutes_ago(1),
            Some(3),
        );
        e.error_message = Some(format!("rejected key {SECRET}"));
        e
    };
    api.store
        .insert(std::slice::from_ref(&failed))
        .await
        .unwrap();

    let (status, list) = api.get("/api/workflows").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quick", "broken", "secretive"]);
    assert_eq!(list["items"][0]["schedule"]["cron"], "*/5 * * * *");
    assert_eq!(list["items"][0]["stepCount"], 1);
    assert_eq!(list["items"][0]["schedules"].as_array().unwrap().len(), 2);

    let (status, detail) = api.get("/api/workflows/secretive").await;
    assert_eq!(status, 200, "{detail}");
    let step = &detail["steps"][0];
    assert_eq!(step["kind"], "http");
    assert_eq!(step["method"], "GET");
    assert_eq!(step["url"], "{{ base_url }}/api?key=***");
    assert_eq!(step["headers"], serde_json::json!(["Authorization"]));
    assert_eq!(step["assertions"], serde_json::json!(["status == 200"]));
    assert_eq!(detail["variables"], serde_json::json!(["api_key"]));
    let (_, quick) = api.get("/api/workflows/quick").await;
    assert_eq!(quick["steps"][0]["command"], serde_json::json!(["true"]));
    assert_eq!(quick["retries"]["attempts"], 1);
    let (status, _) = api.get("/api/workflows/nope").await;
    assert_eq!(status, 404);

    for path in [
        "/api/workflows".to_owned(),
        "/api/workflows/secretive".to_owned(),
        "/api/executions".to_owned(),
        format!("/api/executions/{}", failed.run_id),
        "/api/overview".to_owned(),
        "/api/docs".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        let text = api
            .client
            .get(api.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(SECRET), "{path} shows the secret: {text}");
    }
    let (_, body) = api.get(&format!("/api/executions/{}", failed.run_id)).await;
    assert_eq!(body["execution"]["errorMessage"], "rejected key ***");
}
