//! `/`: every workflow in every environment as a grid (state as colour and text, a
//! sparkline of recent durations, the success rate and p95 of 24 hours, a run in flight),
//! open alerts and the system's health.

use axum::extract::State;
use axum::response::Response;
use futures_util::future::try_join_all;
use wfmon_model::ExecutionStatus;

use super::charts::{millis, sparkline};
use super::html::{Html, url_part};
use super::{Page, Section, health_badge, rate, render, status_badge, time};
use crate::api::overview::{Overview, WorkflowState, current};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

/// Runs in a sparkline.
const SPARK_RUNS: u32 = 20;

/// `GET /`
pub async fn page(State(state): State<AppState>, viewer: Principal, params: Params) -> Response {
    let page = build(&state, &params).await;
    render(&state, &viewer, page)
}

async fn build(state: &AppState, params: &Params) -> Result<Page, ApiError> {
    params.only(&[])?;
    let computed = current(state).await?;
    let overview = &computed.overview;
    let sparks = try_join_all(overview.workflows.iter().map(|w| {
        state
            .store()
            .recent_runs(&w.workflow_name, &w.environment, SPARK_RUNS)
    }))
    .await?;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.raw("<h1>Overview</h1>");
    summary(&mut h, state, overview);
    h.raw("<section aria-labelledby=\"grid-h\"><h2 id=\"grid-h\">Workflows</h2>");
    grid(&mut h, overview, &sparks);
    h.raw("</section>");
    health(&mut h, overview);
    Ok(Page {
        title: "Overview".to_owned(),
        section: Section::Overview,
        main: h.into_string(),
        open_alerts: Some(overview.open_alerts),
    })
}

fn summary(h: &mut Html<'_>, state: &AppState, o: &Overview) {
    let failing = o
        .workflows
        .iter()
        .filter(|w| w.state.is_some_and(|s| !s.is_success()))
        .count();
    let running = o.workflows.iter().filter(|w| w.running.is_some()).count();
    let scheduler = match state.heartbeat().map(|b| b.check()) {
        None => ("none", "not running here".to_owned()),
        Some(Ok(())) => ("ok", "running".to_owned()),
        Some(Err(why)) => ("bad", why),
    };
    h.raw("<ul class=\"tiles\" aria-label=\"Summary\">");
    h.put(
        "<li class=\"tile\"><span class=\"tile-n\">{}</span> workflow × environment pairs</li>",
        &[&o.workflows.len()],
    );
    h.put(
        "<li class=\"tile {}\"><span class=\"tile-n\">{}</span> failing now</li>",
        &[&if failing > 0 { "t-bad" } else { "t-ok" }, &failing],
    );
    h.put(
        "<li class=\"tile\"><span class=\"tile-n\">{}</span> running</li>",
        &[&running],
    );
    h.put(
        "<li class=\"tile {}\"><a href=\"/alerts?status=open\"><span class=\"tile-n\">{}</span> open alerts</a></li>",
        &[&if o.open_alerts > 0 { "t-bad" } else { "t-ok" }, &o.open_alerts],
    );
    h.put(
        "<li class=\"tile t-{}\"><span class=\"tile-n\">Scheduler</span> {}</li>",
        &[&scheduler.0, &scheduler.1],
    );
    h.raw("<li class=\"tile t-ok\"><span class=\"tile-n\">Database</span> answering</li></ul>");
}

fn grid(h: &mut Html<'_>, o: &Overview, sparks: &[Vec<wfmon_model::WorkflowExecution>]) {
    if o.workflows.is_empty() {
        h.raw("<p>No workflows are configured or have run yet.</p>");
        return;
    }
    let mut environments: Vec<&str> = Vec::new();
    let mut workflows: Vec<&str> = Vec::new();
    for w in &o.workflows {
        if !environments.contains(&w.environment.as_str()) {
            environments.push(&w.environment);
        }
        if !workflows.contains(&w.workflow_name.as_str()) {
            workflows.push(&w.workflow_name);
        }
    }
    h.raw("<div class=\"scroll\"><table class=\"grid\"><caption class=\"sr\">State of each workflow in each environment</caption><thead><tr><th scope=\"col\">Workflow</th>");
    for env in &environments {
        h.put("<th scope=\"col\">{}</th>", &[env]);
    }
    h.raw("</tr></thead><tbody>");
    for name in &workflows {
        h.put(
            "<tr><th scope=\"row\"><a href=\"/workflows/{}\">{}</a></th>",
            &[&url_part(name), name],
        );
        for env in &environments {
            let found = o
                .workflows
                .iter()
                .position(|w| w.workflow_name == *name && w.environment == *env);
            match found {
                Some(i) => cell(h, &o.workflows[i], &sparks[i]),
                None => {
                    h.raw(
                        "<td class=\"cell s-none\"><span class=\"muted\">not run here</span></td>",
                    );
                }
            }
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
}

fn cell(h: &mut Html<'_>, w: &WorkflowState, recent: &[wfmon_model::WorkflowExecution]) {
    let class = match w.state {
        None => "none",
        Some(ExecutionStatus::Passed) => "ok",
        Some(ExecutionStatus::Warning) => "warn",
        Some(ExecutionStatus::Failed | ExecutionStatus::TimedOut) => "bad",
        Some(_) => "none",
    };
    h.put(
        "<td class=\"cell s-{}\" data-workflow=\"{}\" data-environment=\"{}\">",
        &[&class, &w.workflow_name, &w.environment],
    );
    h.raw("<div class=\"cell-head\">");
    status_badge(h, w.state);
    if let Some(run) = &w.running {
        h.put(
            " <a class=\"badge b-run\" href=\"/executions/{}\">running</a>",
            &[&url_part(&run.run_id)],
        );
    }
    h.raw("</div>");
    let mut runs: Vec<(i32, ExecutionStatus)> = recent
        .iter()
        .filter_map(|e| e.duration_ms.map(|d| (d, e.status)))
        .collect();
    runs.reverse();
    sparkline(h, &runs);
    h.put(
        "<dl class=\"facts\"><div><dt>24 h</dt><dd>{} of {} runs</dd></div><div><dt>p95</dt><dd>{}</dd></div>",
        &[
            &rate(w.last24h.success_rate),
            &w.last24h.runs,
            &w.last24h.p95_duration_ms.map(millis).unwrap_or_else(|| "—".into()),
        ],
    );
    if let Some(last) = &w.last_run {
        h.put(
            "<div><dt>Last</dt><dd><a href=\"/executions/{}\">",
            &[&url_part(&last.run_id)],
        );
        time(h, Some(last.started_at));
        h.raw("</a></dd></div>");
    }
    if let Some(s) = &w.schedule
        && s.paused
    {
        h.raw("<div><dt>Schedule</dt><dd>paused</dd></div>");
    }
    h.raw("</dl></td>");
}

fn health(h: &mut Html<'_>, o: &Overview) {
    h.raw("<section aria-labelledby=\"health-h\"><h2 id=\"health-h\">Health checks</h2>");
    if o.health.is_empty() {
        h.raw(
            "<p class=\"muted\">No health endpoint was checked in the last 24 hours.</p></section>",
        );
        return;
    }
    h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Endpoint</th><th scope=\"col\">State</th><th scope=\"col\">Response</th><th scope=\"col\">Checked</th><th scope=\"col\">Error</th></tr></thead><tbody>");
    for c in &o.health {
        h.put(
            "<tr><td>{}</td><td>",
            &[&c.endpoint.as_deref().unwrap_or(&c.check_name)],
        );
        health_badge(h, c.status);
        h.put(
            "</td><td>{}</td><td>",
            &[&millis(f64::from(c.response_time_ms))],
        );
        time(h, Some(c.checked_at));
        h.put(
            "</td><td>{}</td></tr>",
            &[&c.error_message.as_deref().unwrap_or("")],
        );
    }
    h.raw("</tbody></table></div></section>");
}
