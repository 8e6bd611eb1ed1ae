//! Executions through the API, the same test bodies on SQLite and PostgreSQL: filters and
//! cursor pagination, the detail of one execution, and bad input answered with a JSON error
//! naming the field; and a report generated for a tag.

mod common;

use chrono::TimeDelta;
use common::*;
use serde_json::Value;
use wfmon_model::*;

on_both_backends!(
    executions_filter_and_page_without_duplicates_or_gaps,
    an_execution_reads_back_with_everything_linked,
    bad_input_is_a_json_error_naming_the_field,
    a_report_generated_for_a_tag_counts_only_its_workflows,
);

/// 30 executions: two workflows, two environments, three statuses, several sharing a start.
async fn seed_executions(api: &TestApi) -> Vec<WorkflowExecution> {
    let base = minutes_ago(120);
    let mut rows = Vec::new();
    for i in 0..30 {
        let workflow = if i % 3 == 0 { "broken" } else { "quick" };
        let environment = if i % 2 == 0 { "production" } else { "staging" };
        let status = match i % 5 {
            0 => ExecutionStatus::Failed,
            1 => ExecutionStatus::Warning,
            _ => ExecutionStatus::Passed,
        };
        // Pairs share their start, so the cursor must break ties by run id.
        let started = base.plus(TimeDelta::minutes(i / 2));
        rows.push(execution(
            workflow,
            environment,
            status,
            started,
            Some(100 + i as i32),
        ));
    }
    api.store.insert(&rows).await.unwrap();
    rows
}
async fn a_report_generated_for_a_tag_counts_only_its_workflows(api: TestApi) {
    let rows = seed_executions(&api).await;
    let quick = rows.iter().filter(|r| r.workflow_name == "quick").count();
    assert!(quick > 0 && quick < rows.len());
    let (status, body) = api
        .post(
            "/api/reports",
            Some("{\"from\": \"3h\", \"tags\": [\"smoke\"]}"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["totalRuns"].as_i64(), Some(quick as i64), "{body}");
    let id = body["reportId"].as_str().unwrap();
    let (_, report) = api.get(&format!("/api/reports/{id}")).await;
    let names: Vec<&str> = report["metadata"]["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["quick"], "{report}");
    assert_eq!(report["metadata"]["tags"], serde_json::json!(["smoke"]));

    for (request, message) in [
        (
            "{\"from\": \"3h\", \"tags\": [\"nope\"]}",
            "unknown tag `nope`",
        ),
        (
            "{\"from\": \"3h\", \"tags\": [\"smoke\", \" \"]}",
            "`tags[1]`",
        ),
        ("{\"from\": \"3h\", \"tags\": \"smoke\"}", "tags"),
    ] {
        let (status, body) = api.post("/api/reports", Some(request)).await;
        assert!(status == 422 || status == 400, "{request}: {status} {body}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{request}: {body}"
        );
    }
    let (_, list) = api.get("/api/reports").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

async fn executions_filter_and_page_without_duplicates_or_gaps(api: TestApi) {
    let rows = seed_executions(&api).await;
    let mut expected: Vec<(Timestamp, String)> = rows
        .iter()
        .map(|r| (r.started_at, r.run_id.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));

    let mut seen = Vec::new();
    let mut path = "/api/executions?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 7);
        for item in items {
            seen.push((
                Timestamp::parse(item["startedAt"].as_str().unwrap()).unwrap(),
                item["runId"].as_str().unwrap().to_owned(),
            ));
        }
        pages += 1;
        match body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/executions?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 5, "30 rows in pages of 7");
    assert_eq!(seen, expected, "every execution once, newest first");

    let count = |body: &Value| body["items"].as_array().unwrap().len();
    let (_, body) = api.get("/api/executions?workflow=broken&limit=500").await;
    assert_eq!(count(&body), 10);
    assert!(body["nextCursor"].is_null());
    let (_, body) = api
        .get("/api/executions?environment=staging&workflow=quick")
        .await;
    assert_eq!(count(&body), 10);
    let (_, body) = api.get("/api/executions?status=failed").await;
    assert_eq!(count(&body), 6, "statuses are read leniently");
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "FAILED")
    );
    let (_, body) = api.get("/api/executions?status=SUCCESS").await;
    assert_eq!(count(&body), 18, "the legacy spelling of PASSED");
    let since = rows[20].started_at;
    let until = rows[26].started_at;
    let (_, body) = api
        .get(&format!("/api/executions?since={since}&until={until}"))
        .await;
    assert_eq!(count(&body), 6, "[since, until) by start");
    let (_, body) = api.get("/api/executions?since=30m").await;
    assert_eq!(
        count(&body),
        0,
        "an age: nothing started in the last 30 minutes"
    );
    let (_, body) = api.get("/api/executions?workflow=nothing").await;
    assert_eq!(count(&body), 0);
}
async fn an_execution_reads_back_with_everything_linked(api: TestApi) {
    let exe = execution(
        "quick",
        "production",
        ExecutionStatus::Passed,
        minutes_ago(3),
        Some(80),
    );
    api.store.insert(std::slice::from_ref(&exe)).await.unwrap();
    api.store
        .insert(&[step(&exe, 1), step(&exe, 0)])
        .await
        .unwrap();
    let check = health_check(
        Some(&exe),
        "http://127.0.0.1:9/api/health",
        HealthStatus::Healthy,
        exe.started_at,
    );
    api.store
        .insert(std::slice::from_ref(&check))
        .await
        .unwrap();

    let (status, body) = api.get(&format!("/api/executions/{}", exe.run_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["execution"]["runId"], exe.run_id.as_str());
    assert_eq!(body["execution"]["workflowName"], "quick");
    assert_eq!(body["execution"]["durationMs"], 80);
    assert_eq!(body["execution"]["triggeredBy"], "SCHEDULED");
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["stepOrder"], 0, "in step order");
    assert_eq!(steps[0]["assertions"][0]["expression"], "status == 200");
    assert_eq!(body["healthChecks"][0]["checkId"], check.check_id.as_str());
    assert_eq!(body["metrics"], Value::Array(vec![]));
    assert_eq!(body["notifications"], Value::Array(vec![]));
    assert!(body["report"].is_null());

    let (status, body) = api.get("/api/executions/run_nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("run_nope"));

    // A workflow name with a typo is not an empty series.
    let (status, body) = api.get("/api/series?workflow=quik").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["message"].as_str().unwrap().contains("quik"), "{body}");
}
async fn bad_input_is_a_json_error_naming_the_field(api: TestApi) {
    for (path, field) in [
        ("/api/executions?status=BOGUS", "status"),
        ("/api/executions?limit=abc", "limit"),
        ("/api/executions?limit=0", "limit"),
        ("/api/executions?limit=501", "limit"),
        ("/api/executions?since=notatime", "since"),
        ("/api/executions?until=2026-13-01T00:00:00Z", "until"),
        ("/api/executions?cursor=garbage", "cursor"),
        ("/api/executions?since=1h&until=2h", "until"),
        ("/api/executions?colour=red", "colour"),
        ("/api/executions?limit=1&limit=2", "limit"),
        ("/api/executions?workflow=%00", "workflow"),
        ("/api/series?bucket=week", "bucket"),
        ("/api/series?bucket=minute&since=7d", "since"),
        ("/api/alerts?status=ON_FIRE", "status"),
        ("/api/reports?type=YEARLY", "type"),
        ("/api/overview?x=1", "x"),
    ] {
        let (status, body) = api.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{path}: {body}");
        assert_eq!(body["details"]["field"], field, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(field),
            "{path}: the message names the field: {body}"
        );
    }
    let (_, body) = api.get("/api/executions?status=BOGUS").await;
    assert!(
        body["message"].as_str().unwrap().contains("PASSED"),
        "lists the values: {body}"
    );

    let run = "/api/workflows/quick/run";
    let (status, body) = api.post(run, Some("{\"environment\": ")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_json")),
        "{body}"
    );
    let (status, body) = api.post(run, Some("{\"environment\": 7}")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["field"], "environment");
    let (status, body) = api.post(run, Some("{\"env\": \"production\"}")).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("env"));
    let (status, body) = api.post(run, Some("[1, 2]")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["message"], "the body must be a JSON object, not an array",
        "no Rust type names: {body}"
    );
    // Not read field by position either: nothing runs.
    let (status, body) = api.post(run, Some("[\"production\"]")).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api.post(run, Some("\"production\"")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("not a string"),
        "{body}"
    );
    let (status, body) = api.post(run, Some("{\"environment\": \"moon\"}")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["field"], "environment");
    assert!(
        body["message"].as_str().unwrap().contains("production"),
        "{body}"
    );
    let response = api
        .client
        .post(api.url(run))
        .header("content-type", "text/plain")
        .body("environment=production")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    let (status, body) = api.get("/api/nothing/here").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("route_not_found"))
    );
    let (status, body) = api.get("/api/executions/").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.post("/api/executions", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, body) = api.get("/api/workflows/quick/run").await;
    assert_eq!(status, 405, "{body}");
    let (status, body) = api.post("/api/workflows/nope/run", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    // CORS stays closed: a preflight gets no allowance.
    let response = api
        .client
        .request(reqwest::Method::OPTIONS, api.url("/api/executions"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control"))
    );
    let response = api
        .client
        .get(api.url("/api/overview"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control"))
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}
