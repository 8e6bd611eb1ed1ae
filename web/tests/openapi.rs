//! The OpenAPI document against the real server: it parses, lists every route the router
//! has (and no other), each listed route is served, and real answers fit their schemas.

mod common;

use common::*;
use serde_json::Value;
use wfmon_model::*;

/// Every route of the router, as the document must list it.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/overview"),
    ("GET", "/api/workflows"),
    ("GET", "/api/workflows/{name}"),
    ("POST", "/api/workflows/{name}/run"),
    ("POST", "/api/schedules/{scheduleId}/pause"),
    ("POST", "/api/schedules/{scheduleId}/resume"),
    ("GET", "/api/executions"),
    ("GET", "/api/executions/{runId}"),
    ("GET", "/api/alerts"),
    ("GET", "/api/alerts/{alertId}"),
    ("POST", "/api/alerts/{alertId}/acknowledge"),
    ("POST", "/api/alerts/{alertId}/resolve"),
    ("POST", "/api/alerts/{alertId}/silence"),
    ("GET", "/api/reports"),
    ("POST", "/api/reports"),
    ("GET", "/api/reports/{reportId}"),
    ("GET", "/api/series"),
    ("GET", "/api/analytics/series"),
    ("GET", "/api/analytics/failures"),
    ("GET", "/api/analytics/steps"),
    ("GET", "/api/slos"),
    ("GET", "/api/slos/{name}"),
    ("GET", "/api/events"),
    ("GET", "/api/ws"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/docs.js"),
];

/// Checks `value` against `schema` (the parts of OpenAPI 3.0 the document uses: $ref,
/// allOf, oneOf, type, nullable, enum, properties, required, items); returns the problems.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .expect("reference resolves");
        return check(doc, target, value, at, problems);
    }
    if value.is_null() {
        let nullable = schema["nullable"] == true;
        if !nullable {
            problems.push(format!("{at}: null but not nullable"));
        }
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        // Merge the properties of every part, so no part sees the others' fields as unknown.
        let mut merged = serde_json::Map::new();
        let mut required = Vec::new();
        for part in all {
            let part = resolve(doc, part);
            if let Some(p) = part["properties"].as_object() {
                merged.extend(p.clone());
            }
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
        }
        let combined =
            serde_json::json!({"type": "object", "properties": merged, "required": required});
        return check(doc, &combined, value, at, problems);
    }
    if let Some(any) = schema["oneOf"].as_array() {
        let fits = any.iter().filter(|s| {
            let mut p = Vec::new();
            check(doc, s, value, at, &mut p);
            p.is_empty()
        });
        if fits.count() != 1 {
            problems.push(format!("{at}: fits not exactly one of oneOf"));
        }
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        problems.push(format!("{at}: {value} not in {values:?}"));
    }
    let ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        problems.push(format!("{at}: {value} is not {}", schema["type"]));
        return;
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    {
        for (key, item) in object {
            match properties.get(key) {
                Some(s) => check(doc, s, item, &format!("{at}.{key}"), problems),
                None => problems.push(format!("{at}.{key}: not in the schema")),
            }
        }
        for key in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(key.as_str().unwrap()) {
                problems.push(format!("{at}: required `{key}` missing"));
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
        None => schema,
    }
}

/// The schema the document gives the answer of `method path` with `status`.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let response = resolve(
        doc,
        &doc["paths"][path][method.to_ascii_lowercase()]["responses"][status.to_string()],
    );
    assert!(
        !response.is_null(),
        "{method} {path} does not document {status}"
    );
    &response["content"]["application/json"]["schema"]
}

fn fits(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let mut problems = Vec::new();
    check(
        doc,
        response_schema(doc, method, path, status),
        body,
        "$",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{method} {path} {status}: {problems:#?}\n{body:#}"
    );
}

#[tokio::test]
async fn the_document_lists_every_route_and_nothing_else() {
    let api = TestApi::sqlite().await;
    let (status, doc) = api.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    expected.sort();
    assert_eq!(documented, expected);

    // Each route is served: no answer says the route or the method is unknown.
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{name}", "quick")
            .replace("{scheduleId}", "quick@production")
            .replace("{runId}", "run_none")
            .replace("{alertId}", "alert_none");
        let request = match *method {
            "GET" => api.client.get(api.url(&concrete)),
            _ => api.client.post(api.url(&concrete)),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if concrete == "/api/events" {
            assert_eq!(status, 200);
            continue;
        }
        let body: Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        assert!(
            !matches!(
                body["error"].as_str(),
                Some("route_not_found" | "method_not_allowed")
            ),
            "{method} {path}: {status} {body}"
        );
    }

    let response = api.client.get(api.url("/api/docs")).send().await.unwrap();
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = response.text().await.unwrap();
    for (method, path) in ROUTES {
        assert!(
            html.contains(&format!("data-method=\"{method}\" data-path=\"{path}\"")),
            "{method} {path} not on the page"
        );
    }
}

#[tokio::test]
async fn real_answers_fit_their_schemas() {
    let api = TestApi::sqlite().await;
    let doc = wfmon_web::openapi_document();
    let exe = execution(
        "quick",
        "production",
        ExecutionStatus::Failed,
        minutes_ago(10),
        Some(40),
    );
    api.store.insert(std::slice::from_ref(&exe)).await.unwrap();
    api.store.insert(&[step(&exe, 0)]).await.unwrap();
    api.store
        .insert(&[health_check(
            Some(&exe),
            "http://x/health",
            HealthStatus::Healthy,
            minutes_ago(10),
        )])
        .await
        .unwrap();
    let open = alert("quick", AlertStatus::Active);
    api.store.insert(std::slice::from_ref(&open)).await.unwrap();
    let running = execution(
        "quick",
        "staging",
        ExecutionStatus::Running,
        minutes_ago(1),
        None,
    );
    api.store
        .insert(std::slice::from_ref(&running))
        .await
        .unwrap();
    // Rows inserted around the recorder get their rollups from a rebuild.
    api.store.rebuild_rollups(None, None).await.unwrap();

    for (path, documented, status) in [
        ("/healthz", "/healthz", 200),
        ("/readyz", "/readyz", 200),
        ("/api/overview", "/api/overview", 200),
        ("/api/workflows", "/api/workflows", 200),
        ("/api/workflows/quick", "/api/workflows/{name}", 200),
        ("/api/workflows/secretive", "/api/workflows/{name}", 200),
        ("/api/workflows/nope", "/api/workflows/{name}", 404),
        ("/api/executions?limit=1", "/api/executions", 200),
        ("/api/executions?limit=x", "/api/executions", 400),
        ("/api/alerts", "/api/alerts", 200),
        ("/api/reports", "/api/reports", 200),
        ("/api/series?bucket=minute", "/api/series", 200),
        (
            "/api/analytics/series?step=1h",
            "/api/analytics/series",
            200,
        ),
        (
            "/api/analytics/series?step=90s",
            "/api/analytics/series",
            400,
        ),
        (
            "/api/analytics/series?workflow=nope",
            "/api/analytics/series",
            404,
        ),
        ("/api/analytics/failures", "/api/analytics/failures", 200),
        (
            "/api/analytics/steps?workflow=quick",
            "/api/analytics/steps",
            200,
        ),
        ("/api/slos", "/api/slos", 200),
        ("/api/slos?workflow=nope", "/api/slos", 404),
        ("/api/slos/quick-availability", "/api/slos/{name}", 200),
        ("/api/slos/quick-latency", "/api/slos/{name}", 200),
        ("/api/slos/nope", "/api/slos/{name}", 404),
    ] {
        let (got, body) = api.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        fits(&doc, "GET", documented, status, &body);
    }
    let (status, body) = api.get(&format!("/api/executions/{}", exe.run_id)).await;
    fits(&doc, "GET", "/api/executions/{runId}", status, &body);
    let (status, body) = api
        .post("/api/schedules/quick@production/pause", None)
        .await;
    fits(
        &doc,
        "POST",
        "/api/schedules/{scheduleId}/pause",
        status,
        &body,
    );
    let (status, body) = api
        .post("/api/schedules/quick@production/resume", None)
        .await;
    fits(
        &doc,
        "POST",
        "/api/schedules/{scheduleId}/resume",
        status,
        &body,
    );
    let (status, body) = api
        .post(
            "/api/workflows/quick/run",
            Some("{\"environment\": \"staging\"}"),
        )
        .await;
    fits(&doc, "POST", "/api/workflows/{name}/run", status, &body);
    let (status, body) = api
        .post("/api/workflows/quick/run", Some("{\"environment\": 1}"))
        .await;
    fits(&doc, "POST", "/api/workflows/{name}/run", status, &body);
    let (status, body) = api.get(&format!("/api/alerts/{}", open.alert_id)).await;
    assert_eq!(status, 200);
    fits(&doc, "GET", "/api/alerts/{alertId}", status, &body);
    let (status, body) = api.get("/api/alerts/alert_none").await;
    fits(&doc, "GET", "/api/alerts/{alertId}", status, &body);
    let silence = format!("/api/alerts/{}/silence", open.alert_id);
    let (status, body) = api
        .post(&silence, Some("{\"for\": \"1h\", \"reason\": \"deploy\"}"))
        .await;
    assert_eq!(status, 200, "{body}");
    fits(&doc, "POST", "/api/alerts/{alertId}/silence", status, &body);
    let (status, body) = api.post(&silence, Some("{\"for\": \"1h\"}")).await;
    fits(&doc, "POST", "/api/alerts/{alertId}/silence", status, &body);
    let acknowledge = format!("/api/alerts/{}/acknowledge", open.alert_id);
    let (status, body) = api.post(&acknowledge, None).await;
    assert_eq!(status, 200, "{body}");
    fits(
        &doc,
        "POST",
        "/api/alerts/{alertId}/acknowledge",
        status,
        &body,
    );
    let (status, body) = api.post(&acknowledge, None).await;
    assert_eq!(status, 409, "{body}");
    fits(
        &doc,
        "POST",
        "/api/alerts/{alertId}/acknowledge",
        status,
        &body,
    );
    let (status, body) = api
        .post(&format!("/api/alerts/{}/resolve", open.alert_id), None)
        .await;
    fits(&doc, "POST", "/api/alerts/{alertId}/resolve", status, &body);
    let (status, body) = api.post("/api/reports", Some("{\"from\": \"1h\"}")).await;
    assert_eq!(status, 201, "{body}");
    fits(&doc, "POST", "/api/reports", status, &body);
    assert!(body["totalRuns"].as_i64().unwrap() >= 1, "{body}");
    assert_eq!(body["reportType"], "ON_DEMAND");
    let id = body["reportId"].as_str().unwrap().to_owned();
    let (status, body) = api.get(&format!("/api/reports/{id}")).await;
    assert_eq!(status, 200, "{body}");
    fits(&doc, "GET", "/api/reports/{reportId}", status, &body);
    assert_eq!(body["metadata"]["workflows"][0]["name"], "quick");
    let (status, body) = api.get("/api/reports/report_none").await;
    assert_eq!(status, 404, "{body}");
    fits(&doc, "GET", "/api/reports/{reportId}", status, &body);
    for (request, field) in [
        ("{}", "from"),
        ("{\"from\": \"yesterday\"}", "from"),
        ("{\"from\": \"1h\", \"to\": \"2h\"}", "to"),
        ("{\"from\": \"1h\", \"workflow\": \"nope\"}", "workflow"),
        (
            "{\"from\": \"1h\", \"environment\": \"a\\u0000b\"}",
            "environment",
        ),
    ] {
        let (status, body) = api.post("/api/reports", Some(request)).await;
        assert_eq!(status, 422, "{request}: {body}");
        assert_eq!(body["details"]["field"], field, "{request}: {body}");
        fits(&doc, "POST", "/api/reports", status, &body);
    }
    api.heartbeat.stop();
    let (status, body) = api.get("/readyz").await;
    fits(&doc, "GET", "/readyz", status, &body);

    // A live event fits LiveEvent.
    let event = serde_json::to_value(wfmon_engine::events::Event::RunStarted {
        run_id: "run_1".into(),
        workflow_name: "quick".into(),
        environment: "production".into(),
        started_at: Timestamp::now(),
    })
    .unwrap();
    let mut problems = Vec::new();
    check(
        &doc,
        &doc["components"]["schemas"]["LiveEvent"],
        &event,
        "$",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let event = serde_json::to_value(wfmon_engine::events::Event::AlertChanged {
        change: "acknowledged",
        alert: Box::new(open),
    })
    .unwrap();
    let mut problems = Vec::new();
    check(
        &doc,
        &doc["components"]["schemas"]["LiveEvent"],
        &event,
        "$",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let event = serde_json::to_value(wfmon_engine::events::Event::ReportGenerated {
        report_id: "report_1".into(),
        report_type: ReportType::OnDemand,
        start_time: Timestamp::now(),
        end_time: Timestamp::now(),
        total_runs: 0,
        success_rate: None,
    })
    .unwrap();
    check(
        &doc,
        &doc["components"]["schemas"]["LiveEvent"],
        &event,
        "$",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
}
