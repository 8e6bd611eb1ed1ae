//! `/executions/{runId}`: one run with its steps (assertions with expected and actual,
//! errors, timings), metrics, health checks, notifications and report.

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use wfmon_model::{StepStatus, WorkflowExecution};

use super::charts::{millis, timing_bar};
use super::html::{Html, url_part};
use super::{Page, Section, health_badge, notifications_section, render, status_badge, time};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// `GET /executions/{runId}`
pub async fn page(
    State(state): State<AppState>,
    viewer: Principal,
    PathParam(run_id): PathParam,
    params: Params,
) -> Response {
    let page = build(&state, &run_id, &params).await;
    render(&state, &viewer, page)
}

async fn build(state: &AppState, run_id: &str, params: &Params) -> Result<Page, ApiError> {
    params.only(&[])?;
    let (detail, open_alerts) = tokio::try_join!(
        state.store().execution_detail(run_id),
        state.store().open_alert_count(),
    )?;
    let detail = detail.ok_or_else(|| ApiError::not_found("execution", run_id))?;
    let e = &detail.execution;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.put(
        "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/\">Overview</a> › <a href=\"/workflows/{}\">{}</a> › run</nav>",
        &[&url_part(&e.workflow_name), &e.workflow_name],
    );
    h.put(
        "<h1>{} <span class=\"muted\">in {}</span> ",
        &[&e.workflow_name, &e.environment],
    );
    status_badge(&mut h, Some(e.status));
    h.raw("</h1><dl class=\"facts wide\">");
    h.put(
        "<div><dt>Run</dt><dd><code>{}</code></dd></div>",
        &[&e.run_id],
    );
    h.raw("<div><dt>Started</dt><dd>");
    time(&mut h, Some(e.started_at));
    h.raw("</dd></div><div><dt>Ended</dt><dd>");
    time(&mut h, e.completed_at);
    h.put(
        "</dd></div><div><dt>Duration</dt><dd>{}</dd></div><div><dt>Triggered by</dt><dd>{}</dd></div><div><dt>Attempt</dt><dd>{}</dd></div><div><dt>Tests</dt><dd>{} passed, {} failed of {}</dd></div>",
        &[
            &e.duration_ms.map(|d| millis(f64::from(d))).unwrap_or_else(|| "—".into()),
            &e.triggered_by,
            &e.attempt,
            &e.tests_passed,
            &e.tests_failed,
            &e.tests_total,
        ],
    );
    if let Some(first) = &e.first_run_id {
        h.put(
            "<div><dt>First attempt</dt><dd><a href=\"/executions/{}\">{}</a></dd></div>",
            &[&url_part(first), first],
        );
    }
    h.raw("</dl>");
    if let Some(error) = &e.error_message {
        h.put(
            "<section class=\"failure\" aria-labelledby=\"err-h\"><h2 id=\"err-h\">Error</h2><pre class=\"wrap\">{}</pre>",
            &[error],
        );
        if let Some(stack) = &e.error_stack {
            h.put(
                "<details><summary>Details</summary><pre class=\"wrap\">{}</pre></details>",
                &[stack],
            );
        }
        h.raw("</section>");
    }

    h.raw("<section aria-labelledby=\"steps-h\"><h2 id=\"steps-h\">Steps</h2>");
    if detail.steps.is_empty() {
        h.raw("<p class=\"muted\">No step results recorded.</p>");
    }
    let total = e
        .duration_ms
        .map(f64::from)
        .unwrap_or_else(|| detail.steps.iter().map(|s| f64::from(s.duration_ms)).sum());
    for s in &detail.steps {
        let offset = (s.started_at.unix_millis() - e.started_at.unix_millis()).max(0) as f64;
        let class = match s.status {
            StepStatus::Passed => "ok",
            StepStatus::Warning => "warn",
            StepStatus::Failed | StepStatus::TimedOut => "bad",
            StepStatus::Skipped => "none",
        };
        h.put(
            "<article class=\"step s-{}\"><h3>{}. {} <span class=\"muted\">({})</span> <span class=\"badge b-{}\">{}</span></h3><p class=\"timing-row\">",
            &[&class, &(s.step_order + 1), &s.step_name, &s.step_kind, &class, &s.status],
        );
        timing_bar(&mut h, offset, f64::from(s.duration_ms), total);
        h.put(
            " {} · started +{} · assertions {} passed, {} failed</p>",
            &[
                &millis(f64::from(s.duration_ms)),
                &millis(offset),
                &s.assertions_passed,
                &s.assertions_failed,
            ],
        );
        if let Some(error) = &s.error_message {
            h.put("<pre class=\"wrap error-text\">{}</pre>", &[error]);
        }
        assertions(&mut h, s.assertions.as_ref().map(|j| &j.0));
        h.raw("</article>");
    }
    h.raw("</section>");

    h.raw("<section aria-labelledby=\"metrics-h\"><h2 id=\"metrics-h\">Metrics</h2>");
    if detail.metrics.is_empty() {
        h.raw("<p class=\"muted\">No metrics recorded.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Metric</th><th scope=\"col\">Value</th><th scope=\"col\">Threshold</th><th scope=\"col\">Within</th></tr></thead><tbody>");
        for m in &detail.metrics {
            h.put(
                "<tr><th scope=\"row\">{}</th><td>{} {}</td><td>{}</td><td>{}</td></tr>",
                &[
                    &m.metric_name,
                    &trim_number(m.metric_value),
                    &m.metric_unit.as_deref().unwrap_or(""),
                    &m.threshold_value
                        .map(trim_number)
                        .unwrap_or_else(|| "—".into()),
                    &if m.is_within_threshold {
                        "yes"
                    } else {
                        "no: breached"
                    },
                ],
            );
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("</section>");

    h.raw("<section aria-labelledby=\"hc-h\"><h2 id=\"hc-h\">Health checks</h2>");
    if detail.health_checks.is_empty() {
        h.raw("<p class=\"muted\">No health checks in this run.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">State</th><th scope=\"col\">Status (expected)</th><th scope=\"col\">Response</th><th scope=\"col\">Error</th></tr></thead><tbody>");
        for c in &detail.health_checks {
            h.put(
                "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td>",
                &[&c.check_name, &c.endpoint.as_deref().unwrap_or("")],
            );
            health_badge(&mut h, c.status);
            h.put(
                "</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
                &[
                    &c.actual_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "—".into()),
                    &c.expected_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "—".into()),
                    &millis(f64::from(c.response_time_ms)),
                    &c.error_message.as_deref().unwrap_or(""),
                ],
            );
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("</section>");

    notifications_section(
        &mut h,
        &detail.notifications,
        "nt-h",
        "No notifications about this run.",
    );
    if let Some(report) = &detail.report {
        h.put(
            "<p>Part of report <a href=\"/reports/{}\">{}</a>.</p>",
            &[&url_part(&report.report_id), &report.report_id],
        );
    }
    Ok(Page {
        title: format!("{} run", e.workflow_name),
        section: Section::Overview,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}

/// The assertions of a step as stored: `[{expression, passed, expected, actual}]`.
fn assertions(h: &mut Html<'_>, stored: Option<&Value>) {
    let Some(items) = stored.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return;
    };
    h.raw("<div class=\"scroll\"><table class=\"asserts\"><thead><tr><th scope=\"col\">Assertion</th><th scope=\"col\">Result</th><th scope=\"col\">Expected</th><th scope=\"col\">Actual</th></tr></thead><tbody>");
    for a in items {
        let passed = a["passed"].as_bool().unwrap_or(false);
        h.put(
            "<tr><td><code>{}</code></td><td><span class=\"badge b-{}\">{}</span></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            &[
                &text_of(&a["expression"]),
                &if passed { "ok" } else { "bad" },
                &if passed { "passed" } else { "failed" },
                &text_of(&a["expected"]),
                &text_of(&a["actual"]),
            ],
        );
    }
    h.raw("</tbody></table></div>");
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// A table of runs, newest first; with `workflow` a column names each run's workflow.
pub fn run_table(h: &mut Html<'_>, runs: &[WorkflowExecution], workflow: bool) {
    if runs.is_empty() {
        h.raw("<p class=\"muted\">No runs yet.</p>");
        return;
    }
    h.raw("<div class=\"scroll\"><table class=\"runs\"><thead><tr><th scope=\"col\">Started</th>");
    if workflow {
        h.raw("<th scope=\"col\">Workflow</th>");
    }
    h.raw("<th scope=\"col\">Environment</th><th scope=\"col\">Status</th><th scope=\"col\">Duration</th><th scope=\"col\">Trigger</th><th scope=\"col\">Error</th></tr></thead><tbody>");
    for r in runs {
        h.put(
            "<tr data-run=\"{}\"><td><a href=\"/executions/{}\">",
            &[&r.run_id, &url_part(&r.run_id)],
        );
        time(h, Some(r.started_at));
        h.raw("</a></td>");
        if workflow {
            h.put("<td>{}</td>", &[&r.workflow_name]);
        }
        h.put("<td>{}</td><td>", &[&r.environment]);
        status_badge(h, Some(r.status));
        let error: String = r
            .error_message
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        h.put(
            "</td><td>{}</td><td>{}</td><td class=\"error-cell\">{}</td></tr>",
            &[
                &r.duration_ms
                    .map(|d| millis(f64::from(d)))
                    .unwrap_or_else(|| "—".into()),
                &r.triggered_by,
                &error,
            ],
        );
    }
    h.raw("</tbody></table></div>");
}
