//! Component schemas. The records' schemas come from `Record::COLUMNS` (camelCase names,
//! types and nullability of the struct fields); the API's own answers are written out here
//! and checked against real answers by the tests.

use serde_json::{Map, Value, json};
use wfmon_model::{
    Alert, AlertSeverity, AlertStatus, ColumnKind, DeliveryStatus, ExecutionStatus, HealthStatus,
    MonitoringReport, NotificationChannel, NotificationLog, NotificationStatus, NotificationType,
    Record, ReportStatus, ReportType, StepStatus, SystemHealthCheck, TriggeredBy,
    WorkflowExecution, WorkflowMetric, WorkflowStepResult,
};

use super::schema_ref;

/// `snake_case` to `camelCase`, as serde renames the fields.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A string schema limited to `values`.
pub fn enum_schema<'a>(values: impl Iterator<Item = &'a str>) -> Value {
    json!({ "type": "string", "enum": values.collect::<Vec<_>>() })
}

macro_rules! values {
    ($ty:ty) => {
        <$ty>::ALL.iter().map(|v| v.as_str())
    };
}

/// The closed set of an enum column, if `column` of `table` is one.
fn column_enum(table: &str, column: &str) -> Option<Value> {
    Some(match (table, column) {
        ("workflow_executions", "status") => enum_schema(values!(ExecutionStatus)),
        ("workflow_executions", "triggered_by") => enum_schema(values!(TriggeredBy)),
        ("workflow_step_results", "status") => enum_schema(values!(StepStatus)),
        ("system_health_checks", "status") => enum_schema(values!(HealthStatus)),
        ("monitoring_reports", "status") => enum_schema(values!(ReportStatus)),
        ("monitoring_reports", "report_type") => enum_schema(values!(ReportType)),
        ("notification_logs", "channel") => enum_schema(values!(NotificationChannel)),
        ("notification_logs", "notification_type") => enum_schema(values!(NotificationType)),
        ("notification_logs", "status") => enum_schema(values!(NotificationStatus)),
        ("notification_logs", "delivery_status") => enum_schema(values!(DeliveryStatus)),
        ("alerts", "severity") => enum_schema(values!(AlertSeverity)),
        ("alerts", "status") => enum_schema(values!(AlertStatus)),
        _ => return None,
    })
}

/// The schema of a record, from its columns.
fn record<R: Record>(description: &str) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for column in R::COLUMNS {
        let mut schema = column_enum(R::TABLE, column.name).unwrap_or_else(|| match column.kind {
            ColumnKind::Text => json!({"type": "string"}),
            ColumnKind::Int => json!({"type": "integer", "format": "int32"}),
            ColumnKind::BigInt => json!({"type": "integer", "format": "int64"}),
            ColumnKind::Float => json!({"type": "number", "format": "double"}),
            ColumnKind::Bool => json!({"type": "boolean"}),
            ColumnKind::Timestamp => json!({"type": "string", "format": "date-time"}),
            ColumnKind::Json => json!({"description": "Any JSON value."}),
        });
        if column.nullable {
            schema["nullable"] = Value::Bool(true);
        }
        let name = camel_case(column.name);
        required.push(Value::String(name.clone()));
        properties.insert(name, schema);
    }
    json!({
        "type": "object",
        "description": format!("{description} (table `{}`)", R::TABLE),
        "properties": properties,
        "required": required,
    })
}

/// An object whose every property is required (nullable ones may be null).
fn object(description: &str, properties: Value) -> Value {
    let required: Vec<Value> = properties
        .as_object()
        .map(|p| p.keys().cloned().map(Value::String).collect())
        .unwrap_or_default();
    json!({ "type": "object", "description": description, "properties": properties, "required": required })
}

fn nullable(schema: Value) -> Value {
    if schema.get("$ref").is_some() {
        json!({ "allOf": [schema], "nullable": true })
    } else {
        let mut schema = schema;
        schema["nullable"] = Value::Bool(true);
        schema
    }
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn string() -> Value {
    json!({"type": "string"})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn run_stats_properties() -> Value {
    json!({
        "runs": integer(),
        "passed": integer(),
        "failed": integer(),
        "successRate": nullable(json!({"type": "number", "minimum": 0, "maximum": 1})),
        "p95DurationMs": nullable(json!({"type": "number"})),
    })
}

fn events() -> Vec<(&'static str, Value)> {
    let status = enum_schema(values!(ExecutionStatus));
    vec![
        (
            "RunStartedEvent",
            object(
                "A run started.",
                json!({
                    "type": {"type": "string", "enum": ["run.started"]},
                    "runId": string(), "workflowName": string(), "environment": string(), "startedAt": time(),
                }),
            ),
        ),
        (
            "RunFinishedEvent",
            object(
                "A run ended (also SKIPPED and ABORTED runs).",
                json!({
                    "type": {"type": "string", "enum": ["run.finished"]},
                    "runId": string(), "workflowName": string(), "environment": string(),
                    "status": status, "durationMs": integer(), "errorMessage": nullable(string()),
                    "completedAt": time(),
                }),
            ),
        ),
        (
            "ExecutionRecordedEvent",
            object(
                "A finished execution was committed to the database.",
                json!({
                    "type": {"type": "string", "enum": ["execution.recorded"]},
                    "execution": schema_ref("WorkflowExecution"),
                }),
            ),
        ),
        (
            "ReportGeneratedEvent",
            object(
                "A monitoring report was generated and saved.",
                json!({
                    "type": {"type": "string", "enum": ["report.generated"]},
                    "reportId": string(), "reportType": enum_schema(values!(ReportType)),
                    "startTime": time(), "endTime": time(), "totalRuns": integer(),
                    "successRate": nullable(json!({"type": "number", "minimum": 0, "maximum": 1})),
                }),
            ),
        ),
        (
            "AlertChangedEvent",
            object(
                "An alert opened or changed state.",
                json!({
                    "type": {"type": "string", "enum": ["alert.changed"]},
                    "change": {"type": "string", "enum": ["opened", "escalated", "acknowledged", "silenced", "unsilenced", "resolved"]},
                    "alert": schema_ref("Alert"),
                }),
            ),
        ),
        (
            "LaggedEvent",
            object(
                "This client fell behind: the oldest events were dropped.",
                json!({
                    "type": {"type": "string", "enum": ["lagged"]},
                    "dropped": integer(),
                }),
            ),
        ),
    ]
}

/// Every component schema.
pub fn all() -> Value {
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| {
        schemas.insert(name.to_owned(), schema);
    };
    add(
        "WorkflowExecution",
        record::<WorkflowExecution>("One attempt at running one workflow in one environment"),
    );
    add(
        "WorkflowStepResult",
        record::<WorkflowStepResult>("The result of one step, with its assertions"),
    );
    add(
        "WorkflowMetric",
        record::<WorkflowMetric>("One measured value of an execution"),
    );
    add(
        "SystemHealthCheck",
        record::<SystemHealthCheck>("One probe of a health endpoint"),
    );
    add(
        "NotificationLog",
        record::<NotificationLog>("One notification"),
    );
    add(
        "MonitoringReport",
        record::<MonitoringReport>("A summary of the executions in a time window"),
    );
    add("Alert", record::<Alert>("One alert episode"));
    add(
        "Error",
        object(
            "Every error answer.",
            json!({
                "error": {"type": "string", "description": "Stable code: invalid_parameter, invalid_body, invalid_json, not_found, route_not_found, method_not_allowed, ..."},
                "message": string(),
                "details": {"type": "object", "description": "Structured facts, e.g. `field` naming the parameter or body field at fault."},
            }),
        ),
    );
    add(
        "Health",
        object(
            "Liveness.",
            json!({"status": {"type": "string", "enum": ["ok"]}}),
        ),
    );
    add(
        "Readiness",
        object(
            "Readiness: each check's result.",
            json!({
                "status": {"type": "string", "enum": ["ready"]},
                "checks": {"type": "object", "additionalProperties": object("One check.", json!({"status": string()}))},
            }),
        ),
    );
    add(
        "RunStats",
        object(
            "Runs over a window: executions that ended and were not skipped; PASSED and WARNING count as passed.",
            run_stats_properties(),
        ),
    );
    add(
        "LastRun",
        object(
            "The last run that ended.",
            json!({
                "runId": string(), "startedAt": time(), "status": enum_schema(values!(ExecutionStatus)),
                "durationMs": nullable(integer()),
            }),
        ),
    );
    add(
        "Running",
        object(
            "A run in flight.",
            json!({"runId": string(), "startedAt": time()}),
        ),
    );
    add(
        "Schedule",
        object(
            "A schedule: one workflow in one environment.",
            json!({
                "scheduleId": string(), "workflowName": string(), "environment": string(),
                "cron": string(), "timezone": string(), "enabled": boolean(), "paused": boolean(),
                "pausedBy": nullable(string()), "pausedAt": nullable(string()),
                "nextRunAt": nullable(time()), "lastRunAt": nullable(time()),
                "runCount": integer(), "successCount": integer(), "failureCount": integer(),
            }),
        ),
    );
    add(
        "WorkflowState",
        object(
            "One workflow in one environment.",
            json!({
                "workflowName": string(), "environment": string(), "configured": boolean(),
                "state": nullable(enum_schema(values!(ExecutionStatus))),
                "lastRun": nullable(schema_ref("LastRun")),
                "running": nullable(schema_ref("Running")),
                "last24h": schema_ref("RunStats"),
                "schedule": nullable(schema_ref("Schedule")),
            }),
        ),
    );
    add(
        "Overview",
        object(
            "The overview.",
            json!({
                "generatedAt": time(), "since": time(),
                "workflows": array(schema_ref("WorkflowState")),
                "health": array(schema_ref("SystemHealthCheck")),
                "openAlerts": integer(),
            }),
        ),
    );
    add(
        "Cron",
        object(
            "A cron schedule.",
            json!({"cron": string(), "timezone": string()}),
        ),
    );
    add(
        "WorkflowSummary",
        object(
            "A configured workflow.",
            json!({
                "name": string(), "description": nullable(string()),
                "tags": array(string()), "environments": array(string()),
                "schedule": nullable(schema_ref("Cron")), "stepCount": integer(),
                "schedules": array(schema_ref("Schedule")),
            }),
        ),
    );
    add(
        "WorkflowList",
        object(
            "The workflows.",
            json!({"items": array(schema_ref("WorkflowSummary"))}),
        ),
    );
    add(
        "Step",
        json!({
            "type": "object",
            "description": "A step as written; header and variable values are not shown.",
            "properties": {
                "name": string(), "kind": {"type": "string", "enum": ["http", "command", "health"]},
                "method": string(), "url": string(), "expectedStatus": integer(),
                "command": array(string()), "headers": array(string()),
                "assertions": array(string()), "captures": array(string()),
                "timeoutMs": integer(), "continueOnFailure": boolean(),
            },
            "required": ["name", "kind", "headers", "assertions", "captures", "timeoutMs", "continueOnFailure"],
        }),
    );
    add(
        "WorkflowDetail",
        json!({
            "description": "A workflow's definition.",
            "allOf": [schema_ref("WorkflowSummary"), object("Definition fields.", json!({
                "timeoutMs": integer(),
                "retries": object("Retries.", json!({
                    "attempts": integer(), "backoff": {"type": "string", "enum": ["exponential", "fixed"]},
                    "initialMs": integer(), "maxMs": integer(),
                })),
                "variables": array(string()),
                "thresholds": array(object("A threshold.", json!({"metric": string(), "max": {"type": "number"}, "soft": boolean()}))),
                "steps": array(schema_ref("Step")),
                "cleanup": array(schema_ref("Step")),
            }))],
        }),
    );
    add(
        "ReportRequest",
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["from"],
            "properties": {
                "from": {"type": "string", "description": "Start of the window (inclusive): RFC 3339 or an age such as 24h."},
                "to": {"type": "string", "description": "End of the window (exclusive): RFC 3339 or an age (default: now)."},
                "workflow": {"type": "string", "description": "Only this workflow."},
                "environment": {"type": "string", "description": "Only this environment."},
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Only the configured workflows with one of these tags; a tag no workflow has is refused."},
            },
        }),
    );
    add(
        "RunRequest",
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"environment": {"type": "string", "description": "Run in this environment only (default: each of the workflow's)."}},
        }),
    );
    add(
        "AlertActionRequest",
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"by": {"type": "string", "maxLength": 100, "description": "Who acts (default `api`)."}},
        }),
    );
    add(
        "SilenceRequest",
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["reason"],
            "properties": {
                "for": {"type": "string", "description": "How long: a duration such as 30m, 2h, 1d (at most 365d). Give this or `until`."},
                "until": {"type": "string", "format": "date-time", "description": "Until when (RFC 3339, in the future). Give this or `for`."},
                "reason": {"type": "string", "maxLength": 500, "description": "Why (kept with the alert)."},
                "by": {"type": "string", "maxLength": 100, "description": "Who acts (default `api`)."},
            },
        }),
    );
    add(
        "Started",
        object(
            "A run started.",
            json!({"runId": string(), "workflowName": string(), "environment": string()}),
        ),
    );
    add(
        "RunsStarted",
        object(
            "The runs started.",
            json!({"runs": array(schema_ref("Started"))}),
        ),
    );
    add(
        "ExecutionPage",
        object(
            "A page of executions.",
            json!({
                "items": array(schema_ref("WorkflowExecution")),
                "nextCursor": nullable(json!({"type": "string", "description": "Pass as `cursor` for the next page; null on the last page."})),
            }),
        ),
    );
    add(
        "ExecutionDetail",
        object(
            "An execution with everything linked to it.",
            json!({
                "execution": schema_ref("WorkflowExecution"),
                "steps": array(schema_ref("WorkflowStepResult")),
                "metrics": array(schema_ref("WorkflowMetric")),
                "healthChecks": array(schema_ref("SystemHealthCheck")),
                "notifications": array(schema_ref("NotificationLog")),
                "report": nullable(schema_ref("MonitoringReport")),
            }),
        ),
    );
    add(
        "AlertList",
        object("Alerts.", json!({"items": array(schema_ref("Alert"))})),
    );
    add(
        "ReportList",
        object(
            "Reports.",
            json!({"items": array(schema_ref("MonitoringReport"))}),
        ),
    );
    let mut point = run_stats_properties();
    point["bucketStart"] = time();
    add("SeriesPoint", object("The runs of one bucket.", point));
    add(
        "Series",
        object(
            "A time series.",
            json!({
                "bucket": {"type": "string", "enum": ["hour", "minute", "day"]},
                "since": time(), "until": time(),
                "points": array(schema_ref("SeriesPoint")),
            }),
        ),
    );
    let number = || nullable(json!({"type": "number"}));
    let figures = json!({
        "runs": integer(), "passed": integer(), "failed": integer(), "warnings": integer(),
        "successRate": nullable(json!({"type": "number", "minimum": 0, "maximum": 1})),
        "totalDurationMs": integer(), "avgDurationMs": number(),
        "minDurationMs": nullable(integer()), "maxDurationMs": nullable(integer()),
        "p50DurationMs": number(), "p95DurationMs": number(), "p99DurationMs": number(),
    });
    add(
        "RunFigures",
        object(
            "The figures of a set of runs (a run: an execution that ended and was not skipped; PASSED and WARNING pass). Percentiles are within 1%.",
            figures.clone(),
        ),
    );
    let mut point = figures;
    point["bucketStart"] = time();
    add("FiguresPoint", object("The runs of one bucket.", point));
    add(
        "WorkflowFigures",
        object(
            "One workflow in one environment over the window.",
            json!({
                "workflowName": string(), "environment": string(),
                "total": schema_ref("RunFigures"),
                "points": array(schema_ref("FiguresPoint")),
            }),
        ),
    );
    add(
        "Uptime",
        object(
            "Share of the minutes in which the workflow ran where no run failed.",
            json!({
                "workflowName": string(), "environment": string(),
                "measuredMinutes": integer(), "upMinutes": integer(),
                "uptimePercent": number(),
            }),
        ),
    );
    add(
        "AnalyticsSeries",
        object(
            "Figures per workflow and environment, one point per bucket.",
            json!({
                "since": time(), "until": time(), "stepSeconds": integer(),
                "series": array(schema_ref("WorkflowFigures")),
                "uptime": array(schema_ref("Uptime")),
            }),
        ),
    );
    add(
        "FailureGroup",
        object(
            "Failures with one signature: step, failed assertion, error class, message without numbers and ids.",
            json!({
                "stepName": nullable(string()), "failedAssertion": nullable(string()),
                "errorClass": {"type": "string", "enum": ["assertion", "timeout", "connection", "dns", "tls", "command", "http", "error"]},
                "message": string(), "count": integer(),
                "workflows": array(string()), "environments": array(string()),
                "firstSeen": time(), "lastSeen": time(),
            }),
        ),
    );
    add(
        "FailureList",
        object(
            "Failure groups, most frequent first.",
            json!({"since": time(), "until": time(), "items": array(schema_ref("FailureGroup"))}),
        ),
    );
    add(
        "StepFigures",
        object(
            "One step of one workflow over the window (skipped steps are not counted).",
            json!({
                "workflowName": string(), "stepName": string(),
                "runs": integer(), "passed": integer(), "failed": integer(),
                "successRate": nullable(json!({"type": "number", "minimum": 0, "maximum": 1})),
                "p95DurationMs": number(),
            }),
        ),
    );
    add(
        "StepList",
        object(
            "Per-step figures.",
            json!({"since": time(), "until": time(), "items": array(schema_ref("StepFigures"))}),
        ),
    );
    let ratio = || json!({"type": "number", "minimum": 0, "maximum": 1});
    add(
        "SloObjective",
        object(
            "What a good run is: `success`, it passed (PASSED or WARNING); `latency`, it took at most `underMs` (whatever its status). `target` is the share of good runs required, a ratio in (0, 1).",
            json!({
                "kind": {"type": "string", "enum": ["success", "latency"]},
                "target": ratio(),
                "underMs": nullable(integer()),
            }),
        ),
    );
    add(
        "SloEnvironment",
        object(
            "An objective's figures in one environment over its rolling window ending now. Runs that started in a maintenance window are left out (good and total alike); a run is an execution that ended and was neither skipped nor aborted, every attempt of a retried run included. Budget figures are None without runs; `budgetLeftFraction` and `budgetLeftRuns` go below 0 when the budget is overspent. A burn rate of 1 spends the budget exactly over the window.",
            json!({
                "environment": string(), "since": time(), "until": time(),
                "runs": integer(), "good": integer(), "bad": integer(),
                "target": ratio(),
                "attained": nullable(ratio()),
                "budgetTotalRuns": number(),
                "budgetUsedFraction": number(),
                "budgetLeftFraction": number(),
                "budgetLeftRuns": number(),
                "burnRate": number(),
                "burnRate1h": number(),
                "burnRate6h": number(),
            }),
        ),
    );
    add(
        "Slo",
        object(
            "A service level objective of the configuration (`slos:`) with its figures now, one entry per environment (its own, or each environment of its workflow).",
            json!({
                "name": string(), "description": nullable(string()),
                "workflowName": string(), "environment": nullable(string()),
                "objective": schema_ref("SloObjective"),
                "windowSeconds": integer(),
                "environments": array(schema_ref("SloEnvironment")),
            }),
        ),
    );
    add(
        "SloList",
        object(
            "Service level objectives, in configuration order.",
            json!({"items": array(schema_ref("Slo"))}),
        ),
    );
    let mut kinds = Vec::new();
    for (name, schema) in events() {
        kinds.push(schema_ref(name));
        add(name, schema);
    }
    add(
        "LiveEvent",
        json!({
            "description": "One live event (SSE data or WebSocket message); `type` tells which. New types may be added: clients ignore the ones they do not know.",
            "oneOf": kinds,
        }),
    );
    Value::Object(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_schemas_use_the_json_names_of_the_struct() {
        let now = wfmon_model::Timestamp::now();
        let check = SystemHealthCheck {
            id: "h".into(),
            check_id: "c".into(),
            check_name: "api".into(),
            status: HealthStatus::Healthy,
            response_time_ms: 1,
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
        let json = serde_json::to_value(&check).unwrap();
        let schema = record::<SystemHealthCheck>("x");
        let mut names: Vec<&String> = json.as_object().unwrap().keys().collect();
        let mut declared: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        names.sort();
        declared.sort();
        assert_eq!(names, declared);
        assert_eq!(schema["properties"]["status"]["enum"][0], "HEALTHY");
        assert_eq!(schema["properties"]["endpoint"]["nullable"], true);
        assert_eq!(camel_case("p95_duration_ms"), "p95DurationMs");
    }
}
