//! `/reports` and `/reports/{reportId}`: the monitoring reports `GET /api/reports` lists,
//! and one report with its figures and details.

use axum::extract::State;
use axum::response::Response;
use wfmon_model::{MonitoringReport, ReportType};

use super::charts::millis;
use super::html::{Html, url_part};
use super::{Page, Section, rate, render, time};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// Reports listed.
const LIMIT: u32 = 100;

/// `GET /reports?type=DAILY`
pub async fn list(State(state): State<AppState>, viewer: Principal, params: Params) -> Response {
    let page = build_list(&state, &params).await;
    render(&state, &viewer, page)
}

async fn build_list(state: &AppState, params: &Params) -> Result<Page, ApiError> {
    params.only(&["type"])?;
    let report_type = params.one_of::<ReportType>("type")?;
    let (reports, open_alerts) = tokio::try_join!(
        state.store().list_reports(report_type, LIMIT),
        state.store().open_alert_count(),
    )?;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.raw("<h1>Reports</h1><nav class=\"windows\" aria-label=\"Report type\"><ul>");
    h.put(
        "<li><a href=\"/reports\" aria-current=\"{}\">all</a></li>",
        &[&if report_type.is_none() {
            "page"
        } else {
            "false"
        }],
    );
    for t in ReportType::ALL {
        h.put(
            "<li><a href=\"/reports?type={}\" aria-current=\"{}\">{}</a></li>",
            &[
                &t.as_str(),
                &if report_type == Some(*t) {
                    "page"
                } else {
                    "false"
                },
                &t.as_str().to_ascii_lowercase(),
            ],
        );
    }
    h.raw("</ul></nav>");
    if reports.is_empty() {
        h.raw("<p class=\"empty\">No reports yet.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Generated</th><th scope=\"col\">Type</th><th scope=\"col\">Period</th><th scope=\"col\">Runs</th><th scope=\"col\">Success rate</th><th scope=\"col\">Average</th><th scope=\"col\">Status</th></tr></thead><tbody>");
        for r in &reports {
            h.put(
                "<tr><td><a href=\"/reports/{}\">",
                &[&url_part(&r.report_id)],
            );
            time(&mut h, Some(r.generated_at));
            h.put("</a></td><td>{}</td><td>", &[&r.report_type]);
            period(&mut h, r);
            h.put(
                "</td><td>{} ({} failed)</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                &[
                    &r.total_runs,
                    &r.failed_runs,
                    &rate(Some(r.success_rate)),
                    &millis(r.avg_duration_ms),
                    &r.status,
                ],
            );
        }
        h.raw("</tbody></table></div>");
    }
    Ok(Page {
        title: "Reports".to_owned(),
        section: Section::Reports,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}

fn period(h: &mut Html<'_>, r: &MonitoringReport) {
    time(h, Some(r.start_time));
    h.raw(" – ");
    time(h, Some(r.end_time));
}

/// `GET /reports/{reportId}`
pub async fn detail(
    State(state): State<AppState>,
    viewer: Principal,
    PathParam(id): PathParam,
    params: Params,
) -> Response {
    let page = build_detail(&state, &id, &params).await;
    render(&state, &viewer, page)
}

async fn build_detail(state: &AppState, id: &str, params: &Params) -> Result<Page, ApiError> {
    params.only(&[])?;
    let (report, open_alerts) = tokio::try_join!(
        state.store().get::<MonitoringReport>(id),
        state.store().open_alert_count(),
    )?;
    let r = report.ok_or_else(|| ApiError::not_found("report", id))?;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.put(
        "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/reports\">Reports</a> › {}</nav><h1>{} report</h1><dl class=\"facts wide\"><div><dt>Period</dt><dd>",
        &[&r.report_id, &r.report_type],
    );
    period(&mut h, &r);
    h.raw("</dd></div><div><dt>Generated</dt><dd>");
    time(&mut h, Some(r.generated_at));
    h.put(
        "</dd></div><div><dt>Status</dt><dd>{}</dd></div><div><dt>Runs</dt><dd>{}</dd></div><div><dt>Passed</dt><dd>{}</dd></div><div><dt>Failed</dt><dd>{}</dd></div><div><dt>Success rate</dt><dd>{}</dd></div><div><dt>Average duration</dt><dd>{}</dd></div><div><dt>Total duration</dt><dd>{}</dd></div><div><dt>Notified</dt><dd>{}</dd></div></dl>",
        &[
            &r.status,
            &r.total_runs,
            &r.successful_runs,
            &r.failed_runs,
            &rate(Some(r.success_rate)),
            &millis(r.avg_duration_ms),
            &millis(r.total_duration_ms as f64),
            &if r.notified { "yes" } else { "no" },
        ],
    );
    if let Some(meta) = &r.metadata {
        let pretty = serde_json::to_string_pretty(&meta.0).unwrap_or_default();
        h.put(
            "<section aria-labelledby=\"rd-h\"><h2 id=\"rd-h\">Details</h2><pre class=\"wrap\">{}</pre></section>",
            &[&pretty],
        );
    }
    Ok(Page {
        title: format!("{} report", r.report_type),
        section: Section::Reports,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}
