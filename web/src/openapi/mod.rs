//! The OpenAPI 3.0 document of the API (`GET /api/openapi.json`), written here by hand for
//! the operations and built from `Record::COLUMNS` for the records, so a record's schema
//! cannot drift from its struct. `schemas.rs` holds the component schemas.

mod schemas;

use serde_json::{Map, Value, json};

/// A `$ref` to a component schema.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description })
}

fn limit(max: u32, default: u32) -> Value {
    query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
        "Most items in the answer.",
    )
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn error(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// One operation.
fn operation(
    id: &str,
    tag: &str,
    summary: &str,
    description: &str,
    parameters: Vec<Value>,
    responses: Vec<(&str, Value)>,
) -> Value {
    let mut out = json!({
        "operationId": id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "responses": responses.into_iter().map(|(c, r)| (c.to_owned(), r)).collect::<Map<_, _>>(),
    });
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    out
}

/// A POST on one alert with a JSON body of `request`, answering the alert.
fn action(id: &str, summary: &str, description: &str, request: &str) -> Value {
    json!({
        "operationId": id,
        "tags": ["alerts"],
        "summary": summary,
        "description": description,
        "parameters": [path("alertId", "Alert id.")],
        "requestBody": { "required": request == "SilenceRequest", "content": { "application/json": { "schema": schema_ref(request) } } },
        "responses": {
            "200": json_response("The alert, changed.", schema_ref("Alert")),
            "400": error("BadRequest"),
            "404": error("NotFound"),
            "409": error("Conflict"),
            "415": error("UnsupportedMediaType"),
            "422": error("UnprocessableEntity"),
            "503": error("Unavailable"),
        }
    })
}

fn time_param(name: &str, what: &str) -> Value {
    query(
        name,
        json!({"type": "string"}),
        &format!(
            "{what}: an RFC 3339 time (2026-01-02T03:04:05Z) or an age before now (30m, 24h, 7d)."
        ),
    )
}

fn paths() -> Value {
    let ok = |d: &str, schema: &str| json_response(d, schema_ref(schema));
    let workflow_filter = || query("workflow", json!({"type": "string"}), "Only this workflow.");
    let environment_filter = || {
        query(
            "environment",
            json!({"type": "string"}),
            "Only this environment.",
        )
    };
    let mut paths = json!({
        "/healthz": { "get": operation("healthz", "probes", "Liveness",
            "200 while the process serves requests.", vec![],
            vec![("200", ok("Alive.", "Health"))]) },
        "/readyz": { "get": operation("readyz", "probes", "Readiness",
            "200 when the database answers, its schema is the one this wfmon needs and the scheduler's loop ran recently (when a scheduler runs beside the API); otherwise 503 naming the failing checks in `details.failing`.",
            vec![],
            vec![("200", ok("Ready.", "Readiness")), ("503", error("NotReady"))]) },
        "/api/overview": { "get": operation("getOverview", "overview", "Overview",
            "Every workflow in every environment: its state (last run's status), last run, runs of the last 24 hourly buckets, the current one included (success rate, p95 duration) and schedule; the latest check of each health endpoint; the number of open alerts.",
            vec![],
            vec![("200", ok("The overview.", "Overview")), ("503", error("Unavailable"))]) },
        "/api/workflows": { "get": operation("listWorkflows", "workflows", "Workflows",
            "The configured workflows, in configuration order, with their schedule rows.",
            vec![],
            vec![("200", ok("The workflows.", "WorkflowList")), ("503", error("Unavailable"))]) },
        "/api/workflows/{name}": { "get": operation("getWorkflow", "workflows", "Workflow definition",
            "A workflow's definition: steps (name, kind, target as written), assertions, captures, thresholds, retries, schedule. Variable and header values are never shown; secret values are replaced by ***.",
            vec![path("name", "Workflow name.")],
            vec![("200", ok("The definition.", "WorkflowDetail")), ("404", error("NotFound"))]) },
        "/api/workflows/{name}/run": { "post": {
            "operationId": "runWorkflow",
            "tags": ["workflows"],
            "summary": "Run now",
            "description": "Starts the workflow now, in one environment or in each of its environments; answers at once with the runs started (triggered by API). Each run is announced on the live events.",
            "parameters": [path("name", "Workflow name.")],
            "requestBody": { "required": false, "content": { "application/json": { "schema": schema_ref("RunRequest") } } },
            "responses": {
                "202": ok("The runs started.", "RunsStarted"),
                "400": error("BadRequest"),
                "404": error("NotFound"),
                "415": error("UnsupportedMediaType"),
                "422": error("UnprocessableEntity"),
                "503": error("Unavailable"),
            }
        } },
        "/api/schedules/{scheduleId}/pause": { "post": operation("pauseSchedule", "schedules", "Pause a schedule",
            "Stops the schedule until resumed, across restarts and configuration reloads. Who and when are kept.",
            vec![path("scheduleId", "`workflow@environment`.")],
            vec![("200", ok("The schedule, paused.", "Schedule")), ("404", error("NotFound")), ("409", error("Conflict"))]) },
        "/api/schedules/{scheduleId}/resume": { "post": operation("resumeSchedule", "schedules", "Resume a schedule",
            "Runs the schedule again from its next due time.",
            vec![path("scheduleId", "`workflow@environment`.")],
            vec![("200", ok("The schedule, running.", "Schedule")), ("404", error("NotFound")), ("409", error("Conflict"))]) },
        "/api/executions": { "get": operation("listExecutions", "executions", "Executions",
            "Executions matching the filters, newest first (by start, then run id). Pass `nextCursor` as `cursor` for the next page: pages neither repeat nor skip executions.",
            vec![
                workflow_filter(),
                environment_filter(),
                query("status", schemas::enum_schema(wfmon_model::ExecutionStatus::ALL.iter().map(|s| s.as_str())), "Only this status (legacy spellings such as SUCCESS are accepted)."),
                time_param("since", "Started at or after"),
                time_param("until", "Started before"),
                limit(500, 50),
                query("cursor", json!({"type": "string"}), "The `nextCursor` of the previous page."),
            ],
            vec![("200", ok("A page of executions.", "ExecutionPage")), ("400", error("BadRequest")), ("503", error("Unavailable"))]) },
        "/api/executions/{runId}": { "get": operation("getExecution", "executions", "Execution",
            "One execution with its step results (and their assertions), metrics, health checks, notifications and report.",
            vec![path("runId", "Run id.")],
            vec![("200", ok("The execution.", "ExecutionDetail")), ("404", error("NotFound"))]) },
        "/api/alerts": { "get": operation("listAlerts", "alerts", "Alerts",
            "Alerts, most recently triggered first.",
            vec![
                query("status", schemas::enum_schema(wfmon_model::AlertStatus::ALL.iter().map(|s| s.as_str())), "Only this status."),
                workflow_filter(),
                environment_filter(),
                limit(500, 50),
            ],
            vec![("200", ok("The alerts.", "AlertList")), ("400", error("BadRequest"))]) },
        "/api/alerts/{alertId}": { "get": operation("getAlert", "alerts", "Alert",
            "One alert episode: its status, who acknowledged or resolved it and when, and (in `metadata`) who silenced it, why and until when.",
            vec![path("alertId", "Alert id.")],
            vec![("200", ok("The alert.", "Alert")), ("400", error("BadRequest")), ("404", error("NotFound")), ("503", error("Unavailable"))]) },
        "/api/alerts/{alertId}/acknowledge": { "post": action("acknowledgeAlert", "Acknowledge an alert",
            "Stops escalation and reminders of an ACTIVE, ESCALATED or SILENCED alert. Who (`by`, default `api`) and when are recorded; announced as `alert.changed`.",
            "AlertActionRequest") },
        "/api/alerts/{alertId}/resolve": { "post": action("resolveAlert", "Resolve an alert",
            "Resolves an open alert by hand; when its rule's channels were told it fired, they get a recovery message. Who and when are recorded; announced as `alert.changed`.",
            "AlertActionRequest") },
        "/api/alerts/{alertId}/silence": { "post": action("silenceAlert", "Silence an alert",
            "Keeps an open alert recorded but stops its notifications for a while: `for` a duration (30m, 2h, 1d) or `until` a time, with a `reason` (required). Who, why and until when are kept in the alert's metadata; announced as `alert.changed`.",
            "SilenceRequest") },
        "/api/reports": {
            "get": operation("listReports", "reports", "Reports",
                "Monitoring reports, most recently generated first.",
                vec![
                    query("type", schemas::enum_schema(wfmon_model::ReportType::ALL.iter().map(|s| s.as_str())), "Only this type."),
                    limit(500, 50),
                ],
                vec![("200", ok("The reports.", "ReportList")), ("400", error("BadRequest"))]),
            "post": {
                "operationId": "generateReport",
                "tags": ["reports"],
                "summary": "Generate a report",
                "description": "Computes the monitoring report of a window from the raw rows (exact counts, rates and percentiles, breakdowns per workflow and environment, slowest and failing steps, alerts, flaky runs, change against the previous window of the same length), saves it as ON_DEMAND with the window's executions not yet in a report linked to it, and announces it as a report.generated live event. An empty window gives a report that says so (metadata.empty).",
                "requestBody": { "required": true, "content": { "application/json": { "schema": schema_ref("ReportRequest") } } },
                "responses": {
                    "201": ok("The report, saved.", "MonitoringReport"),
                    "400": error("BadRequest"),
                    "415": error("UnsupportedMediaType"),
                    "422": error("UnprocessableEntity"),
                }
            }
        },
        "/api/reports/{reportId}": { "get": operation("getReport", "reports", "A report",
            "One report with its metadata (breakdowns, percentiles, steps, alerts, change against the previous window, series).",
            vec![path("reportId", "The report's id.")],
            vec![("200", ok("The report.", "MonitoringReport")), ("404", error("NotFound"))]) },
        "/api/series": { "get": operation("getSeries", "overview", "Time series",
            "Runs, passed, failed, success rate and p95 duration per bucket, every bucket of the window present (at most 1440), oldest first. A run is an execution that ended and was not skipped.",
            vec![
                workflow_filter(),
                environment_filter(),
                query("bucket", json!({"type": "string", "enum": ["hour", "minute", "day"], "default": "hour"}), "Bucket width (days are UTC days)."),
                time_param("since", "Start of the window (default: 24 hours before `until` for hours, 1 hour for minutes, 30 days for days)"),
                time_param("until", "End of the window (default: now)"),
            ],
            vec![("200", ok("The series.", "Series")), ("400", error("BadRequest"))]) },
        "/api/analytics/series": { "get": operation("getAnalyticsSeries", "analytics", "Figures per workflow over any window",
            "From the rollups: per workflow and environment that ran in the window, the window's runs, success rate, average and p50/p95/p99 duration (within 1%), and one point per bucket of `step` (empty buckets included, at most 1440), plus uptime. The window is taken to whole minutes; at most 1900 days.",
            vec![
                workflow_filter(),
                environment_filter(),
                time_param("since", "Start of the window (default: 24 hours before `until`)"),
                time_param("until", "End of the window (default: now)"),
                query("step", json!({"type": "string"}), "Bucket size, a whole number of minutes (1m, 15m, 1h, 1d); default: the smallest of 1m, 5m, 15m, 1h, 6h, 1d, 7d giving at most 500 points."),
            ],
            vec![("200", ok("The series.", "AnalyticsSeries")), ("400", error("BadRequest")), ("404", error("NotFound"))]) },
        "/api/analytics/failures": { "get": operation("getFailureGroups", "analytics", "Failures grouped by signature",
            "Failures of the runs started in the window, grouped across workflows by step, failed assertion, error class and message (numbers and ids taken out), with count, workflows affected and first and last seen; most frequent first.",
            vec![
                workflow_filter(),
                environment_filter(),
                time_param("since", "Start of the window (default: 24 hours before `until`)"),
                time_param("until", "End of the window (default: now)"),
                limit(500, 50),
            ],
            vec![("200", ok("The groups.", "FailureList")), ("400", error("BadRequest")), ("404", error("NotFound"))]) },
        "/api/analytics/steps": { "get": operation("getStepFigures", "analytics", "Per-step figures",
            "Per workflow and step, over the steps of the runs started in the window: runs, success rate and exact p95 duration.",
            vec![
                workflow_filter(),
                environment_filter(),
                time_param("since", "Start of the window (default: 24 hours before `until`)"),
                time_param("until", "End of the window (default: now)"),
            ],
            vec![("200", ok("The steps.", "StepList")), ("400", error("BadRequest")), ("404", error("NotFound"))]) },
        "/api/events": { "get": {
            "operationId": "streamEvents",
            "tags": ["live"],
            "summary": "Live events (Server-Sent Events)",
            "description": "The event bus as Server-Sent Events: the event name is the event's `type` (run.started, run.finished, execution.recorded, alert.changed, ...), the data its JSON (see LiveEvent). Keep-alive comments every 15 s. A client that falls behind loses the oldest events and receives a `lagged` event telling how many.",
            "responses": { "200": { "description": "An endless event stream.", "content": { "text/event-stream": { "schema": {"type": "string"} } } } }
        } },
        "/api/ws": { "get": {
            "operationId": "websocketEvents",
            "tags": ["live"],
            "summary": "Live events (WebSocket)",
            "description": "The same events as /api/events over a WebSocket: one JSON text message per event (see LiveEvent). Without a WebSocket handshake the answer is 426.",
            "responses": { "101": { "description": "Switching to the WebSocket protocol." }, "426": error("UpgradeRequired") }
        } },
        "/api/openapi.json": { "get": operation("getOpenApi", "documents", "This document",
            "The OpenAPI 3.0 description of every operation.", vec![],
            vec![("200", json_response("The document.", json!({"type": "object"})))]) },
        "/api/docs": { "get": {
            "operationId": "getDocs",
            "tags": ["documents"],
            "summary": "API documentation page",
            "description": "A small HTML page listing the operations of this document, with a way to try the GET ones.",
            "responses": { "200": { "description": "The page.", "content": { "text/html": { "schema": {"type": "string"} } } } }
        } },
        "/api/docs/docs.js": { "get": {
            "operationId": "getDocsScript",
            "tags": ["documents"],
            "summary": "Script of the documentation page",
            "description": "The page's own script (no third-party code).",
            "responses": { "200": { "description": "The script.", "content": { "text/javascript": { "schema": {"type": "string"} } } } }
        } },
    });
    // Objectives, added apart: one more entry in the literal above exceeds the macro's
    // recursion limit.
    if let (Some(all), Value::Object(more)) = (paths.as_object_mut(), slo_paths()) {
        all.extend(more);
    }
    paths
}

/// `/api/slos` and `/api/slos/{name}`.
fn slo_paths() -> Value {
    let ok = |d: &str, schema: &str| json_response(d, schema_ref(schema));
    json!({
        "/api/slos": { "get": operation("listSlos", "slos", "Service level objectives",
            "Each objective of the configuration with its figures now, per environment: attained level, error budget (total, used and left, in runs and as a fraction) and burn rate over its rolling window, and burn rates over the last hour and six hours. Counted from the raw runs (exact durations), with runs that started in a maintenance window left out.",
            vec![query("workflow", json!({"type": "string"}), "Only the objectives of this workflow.")],
            vec![("200", ok("The objectives.", "SloList")), ("400", error("BadRequest")), ("404", error("NotFound"))]) },
        "/api/slos/{name}": { "get": operation("getSlo", "slos", "A service level objective",
            "One objective of the configuration with its figures now, per environment (as in the list).",
            vec![path("name", "The objective's name (`slos[].name`).")],
            vec![("200", ok("The objective.", "Slo")), ("404", error("NotFound"))]) },
    })
}

fn responses() -> Value {
    let e = |description: &str| json_response(description, schema_ref("Error"));
    json!({
        "BadRequest": e("A query parameter, path segment or body is invalid; `details.field` names it."),
        "NotFound": e("No such resource."),
        "Conflict": e("The resource cannot change this way now."),
        "UnsupportedMediaType": e("The body is not application/json."),
        "UnprocessableEntity": e("The JSON body does not fit; `details.field` names the field."),
        "Unavailable": e("The database does not answer, or runs cannot be started here."),
        "NotReady": e("Not ready; `details.failing` names the failing checks, `details.checks` has each result."),
        "UpgradeRequired": e("The request was not a WebSocket handshake."),
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = paths();
    for open in ["/healthz", "/readyz"] {
        paths[open]["get"]["security"] = json!([]);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wfmon API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API of wfmon, a synthetic workflow monitor: workflows, schedules, executions with their steps, metrics and health checks, alerts, reports, time series and live events. JSON field names are camelCase; times are RFC 3339 in UTC; success rates are ratios in [0, 1]. Every error is JSON {\"error\": code, \"message\": text, \"details\": {...}}."
        },
        "servers": [{ "url": "/" }],
        "tags": [
            {"name": "overview"}, {"name": "workflows"}, {"name": "schedules"}, {"name": "executions"},
            {"name": "alerts"}, {"name": "reports"}, {"name": "slos"}, {"name": "live"}, {"name": "probes"}, {"name": "documents"}
        ],
        "paths": paths,
        // Every operation needs a token or a dashboard session, unless the server runs with
        // authentication off; /healthz and /readyz are always open.
        "security": [{ "bearerToken": [] }, { "sessionCookie": [] }],
        "components": {
            "schemas": schemas::all(),
            "responses": responses(),
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from `wfmon token create --name NAME --role read|admin`. GET and HEAD need role read, every other method admin (403 otherwise); a missing, unknown, revoked or expired token is 401 with `WWW-Authenticate: Bearer`."
                },
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "wfmon_session",
                    "description": "The dashboard's session, set by POST /login. Requests that change state must also send the page's CSRF token in `X-CSRF-Token`; a cross-origin `Origin` is refused (403)."
                }
            }
        },
    })
}

/// `(method, path, summary)` of every operation, in document order.
pub fn operations(document: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            if let Some(methods) = item.as_object() {
                for (method, op) in methods {
                    let summary = op["summary"].as_str().unwrap_or_default().to_owned();
                    out.push((method.to_ascii_uppercase(), path.clone(), summary));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 20);
        for r in found {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let doc = document();
        for (method, path, _) in operations(&doc) {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "path");
                assert!(declared, "{method} {path}: `{name}` not declared");
            }
        }
    }
}
