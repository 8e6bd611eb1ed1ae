//! `/workflows/{name}`: success-rate and p95-duration charts over a chosen window (1h, 24h,
//! 7d, 30d), the figures per environment, its service level objectives, the schedules with pause and resume, "run now",
//! and the recent runs.

use axum::extract::State;
use axum::response::Response;
use chrono::TimeDelta;
use wfmon_model::{RollupBucket, Timestamp, WorkflowSchedule};
use wfmon_store::ExecutionFilter;

use super::charts::{duration_line, millis, success_bars};
use super::html::{Html, url_part};
use super::{Page, Section, rate, render, time};
use crate::api::ScheduleView;
use crate::api::series::series_points;
use crate::auth::Principal;
use crate::error::{ApiError, echo};
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// The windows a chart can show: name, length, bucket.
const WINDOWS: &[(&str, TimeDelta, RollupBucket)] = &[
    ("1h", TimeDelta::hours(1), RollupBucket::Minute),
    ("24h", TimeDelta::hours(24), RollupBucket::Hour),
    ("7d", TimeDelta::days(7), RollupBucket::Hour),
    ("30d", TimeDelta::days(30), RollupBucket::Day),
];

/// Runs listed.
const RECENT: u32 = 25;

/// `GET /workflows/{name}?window=24h`
pub async fn page(
    State(state): State<AppState>,
    viewer: Principal,
    PathParam(name): PathParam,
    params: Params,
) -> Response {
    let page = build(&state, &name, &params).await;
    render(&state, &viewer, page)
}

async fn build(state: &AppState, name: &str, params: &Params) -> Result<Page, ApiError> {
    params.only(&["window"])?;
    let window = params
        .parse_with("window", |text| {
            WINDOWS
                .iter()
                .position(|w| w.0 == text)
                .ok_or_else(|| format!("`window`: `{}` is not one of 1h, 24h, 7d, 30d", echo(text)))
        })?
        .unwrap_or(1);
    let (window_name, length, bucket) = WINDOWS[window];
    let configured = state.config().workflow(name);
    let store = state.store();
    let now = Timestamp::now();
    let since = now.minus(length);
    let filter = ExecutionFilter {
        workflow: Some(name.to_owned()),
        limit: Some(RECENT),
        ..ExecutionFilter::default()
    };
    let (runs, schedules, stats, open_alerts) = tokio::try_join!(
        store.list_executions(&filter),
        store.schedules(),
        store.workflow_stats(since, now.plus(TimeDelta::minutes(1))),
        store.open_alert_count(),
    )?;
    if configured.is_none() && runs.is_empty() {
        return Err(ApiError::not_found("workflow", name));
    }
    let points = series_points(state, Some(name), None, bucket, since, now).await?;
    let slos = wfmon_engine::slo::slo_statuses(store, state.config(), Some(name), now).await?;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.put("<h1>{}</h1>", &[&name]);
    if let Some(w) = configured {
        if let Some(d) = &w.description {
            h.put("<p class=\"lead\">{}</p>", &[d]);
        }
        if !w.tags.is_empty() {
            h.put("<p class=\"muted\">Tags: {}</p>", &[&w.tags.join(", ")]);
        }
        h.raw("<div class=\"actions\">");
        h.put(
            "<button type=\"button\" class=\"act primary\" data-url=\"/api/workflows/{}/run\" data-done=\"Run started\">Run now</button>",
            &[&url_part(name)],
        );
        if w.environments.len() > 1 {
            for env in &w.environments {
                h.put(
                    "<button type=\"button\" class=\"act\" data-url=\"/api/workflows/{}/run\" data-body=\"{}\" data-done=\"Run started\">Run in {}</button>",
                    &[
                        &url_part(name),
                        &serde_json::json!({ "environment": env }),
                        env,
                    ],
                );
            }
        }
        h.raw("</div>");
    } else {
        h.raw("<p class=\"notice-inline\">This workflow is no longer in the configuration; its history stays.</p>");
    }

    h.raw("<section aria-labelledby=\"charts-h\"><h2 id=\"charts-h\">Trends</h2><nav class=\"windows\" aria-label=\"Window\"><ul>");
    for (i, (label, _, _)) in WINDOWS.iter().enumerate() {
        h.put(
            "<li><a href=\"/workflows/{}?window={}\" aria-current=\"{}\">{}</a></li>",
            &[
                &url_part(name),
                label,
                &if i == window { "page" } else { "false" },
                label,
            ],
        );
    }
    h.raw("</ul></nav>");
    let mine: Vec<_> = stats.iter().filter(|s| s.workflow_name == name).collect();
    h.raw("<div class=\"scroll\"><table><caption>Figures of the window, per environment</caption><thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Runs</th><th scope=\"col\">Passed</th><th scope=\"col\">Failed</th><th scope=\"col\">Success rate</th><th scope=\"col\">p95</th></tr></thead><tbody>");
    if mine.is_empty() {
        h.raw("<tr><td colspan=\"6\" class=\"muted\">No runs in this window.</td></tr>");
    }
    for s in mine {
        h.put(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            &[
                &s.environment,
                &s.stats.runs,
                &s.stats.passed,
                &s.stats.failed,
                &rate(s.stats.success_rate),
                &s.stats.p95_duration_ms.map(millis).unwrap_or_else(|| "—".into()),
            ],
        );
    }
    h.raw("</tbody></table></div><div class=\"charts\"><figure>");
    let per = match bucket {
        RollupBucket::Minute => "minute",
        RollupBucket::Hour => "hour",
        RollupBucket::Day => "day",
    };
    let caption = format!("Success rate per {per}, last {window_name}");
    success_bars(&mut h, &points, &caption);
    h.put("<figcaption>{}</figcaption></figure><figure>", &[&caption]);
    let caption = format!("p95 duration per {per}, last {window_name}");
    duration_line(&mut h, &points, &caption);
    h.put(
        "<figcaption>{}</figcaption></figure></div></section>",
        &[&caption],
    );

    super::slos::slo_section(&mut h, &slos);
    schedules_section(&mut h, name, &schedules);

    h.raw("<section aria-labelledby=\"runs-h\"><h2 id=\"runs-h\">Recent runs</h2>");
    super::execution::run_table(&mut h, &runs, false);
    h.raw("</section>");
    Ok(Page {
        title: name.to_owned(),
        section: Section::Overview,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}

fn schedules_section(h: &mut Html<'_>, name: &str, schedules: &[WorkflowSchedule]) {
    let mine: Vec<ScheduleView> = schedules
        .iter()
        .filter(|s| s.workflow_name == name)
        .map(ScheduleView::from)
        .collect();
    h.raw("<section aria-labelledby=\"sched-h\"><h2 id=\"sched-h\">Schedule</h2>");
    if mine.is_empty() {
        h.raw("<p class=\"muted\">Not scheduled: it runs only when started.</p></section>");
        return;
    }
    h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Cron</th><th scope=\"col\">State</th><th scope=\"col\">Next run</th><th scope=\"col\">Last run</th><th scope=\"col\">Runs</th><th scope=\"col\"><span class=\"sr\">Actions</span></th></tr></thead><tbody>");
    for s in &mine {
        h.put(
            "<tr><th scope=\"row\">{}</th><td><code>{}</code> ({})</td><td>",
            &[&s.environment, &s.cron, &s.timezone],
        );
        if s.paused {
            h.put(
                "<span class=\"badge b-warn\">PAUSED</span> by {}",
                &[&s.paused_by.as_deref().unwrap_or("someone")],
            );
        } else if s.enabled {
            h.raw("<span class=\"badge b-ok\">ACTIVE</span>");
        } else {
            h.raw("<span class=\"badge b-none\">DISABLED</span>");
        }
        h.raw("</td><td>");
        time(h, s.next_run_at);
        h.raw("</td><td>");
        time(h, s.last_run_at);
        h.put(
            "</td><td>{} ({} passed, {} failed)</td><td>",
            &[&s.run_count, &s.success_count, &s.failure_count],
        );
        let (verb, label) = if s.paused {
            ("resume", "Resume")
        } else {
            ("pause", "Pause")
        };
        if s.paused || s.enabled {
            h.put(
                "<button type=\"button\" class=\"act\" data-url=\"/api/schedules/{}/{}\" data-done=\"Schedule {}d\">{}<span class=\"sr\"> {}</span></button>",
                &[&url_part(&s.schedule_id), &verb, &verb, &label, &s.environment],
            );
        }
        h.raw("</td></tr>");
    }
    h.raw("</tbody></table></div></section>");
}
