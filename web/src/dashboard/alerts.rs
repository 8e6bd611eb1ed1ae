//! `/alerts`: alerts with filters (status, workflow, environment), each with the actions its
//! state allows: acknowledge, resolve, and silence for a while with a reason.
//! `/alerts/{alertId}`: one alert, with the same actions and the notifications sent about it
//! (where reminders, escalations and recoveries link to).

use axum::extract::State;
use axum::response::Response;
use wfmon_engine::alerting::AlertAction;
use wfmon_model::{Alert, AlertStatus, Timestamp};
use wfmon_store::AlertFilter;

use super::html::{Html, url_part};
use super::{Page, Section, alert_badge, notifications_section, render, time};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{Params, PathParam};
use crate::state::AppState;

/// Notifications listed on an alert's page.
const NOTIFICATIONS: u32 = 100;

/// Alerts listed.
const LIMIT: u32 = 200;

/// Silence lengths offered.
const SILENCES: &[(&str, &str)] = &[
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("24h", "1 day"),
    ("7d", "1 week"),
];

/// `GET /alerts?status=open|ACTIVE|...&workflow=&environment=`
pub async fn page(State(state): State<AppState>, viewer: Principal, params: Params) -> Response {
    let page = build(&state, &params).await;
    render(&state, &viewer, page)
}

async fn build(state: &AppState, params: &Params) -> Result<Page, ApiError> {
    params.only(&["status", "workflow", "environment"])?;
    let status_text = params.text("status").unwrap_or("open");
    let (open_only, status) = match status_text.to_ascii_lowercase().as_str() {
        "open" => (true, None),
        "all" => (false, None),
        _ => (false, params.one_of::<AlertStatus>("status")?),
    };
    let filter = AlertFilter {
        status,
        workflow: params.text("workflow").map(str::to_owned),
        environment: params.text("environment").map(str::to_owned),
        limit: Some(LIMIT),
    };
    let (mut alerts, open_alerts) = tokio::try_join!(
        state.store().list_alerts(&filter),
        state.store().open_alert_count(),
    )?;
    if open_only {
        alerts.retain(|a| a.status != AlertStatus::Resolved);
    }
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.raw("<h1>Alerts</h1>");
    filters(&mut h, state, status_text, &filter);
    if alerts.is_empty() {
        h.raw("<p class=\"empty\">No alerts match.</p>");
    } else {
        h.put(
            "<p class=\"muted\">{} alert(s), most recently triggered first.</p><ul class=\"alerts\">",
            &[&alerts.len()],
        );
        for a in &alerts {
            item(&mut h, a);
        }
        h.raw("</ul>");
    }
    Ok(Page {
        title: "Alerts".to_owned(),
        section: Section::Alerts,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}

/// `GET /alerts/{alertId}`
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
    let (alert, notifications, open_alerts) = tokio::try_join!(
        state.store().get::<Alert>(id),
        state
            .store()
            .recent_notifications(None, Some(id), NOTIFICATIONS),
        state.store().open_alert_count(),
    )?;
    let a = alert.ok_or_else(|| ApiError::not_found("alert", id))?;
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    h.put(
        "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/alerts\">Alerts</a> › {}</nav><h1>{} <span class=\"muted\">in {}</span></h1><ul class=\"alerts\">",
        &[&a.alert_id, &a.workflow_name, &a.environment],
    );
    item(&mut h, &a);
    h.raw("</ul>");
    notifications_section(
        &mut h,
        &notifications,
        "an-h",
        "No notifications about this alert.",
    );
    Ok(Page {
        title: format!("Alert: {} in {}", a.workflow_name, a.environment),
        section: Section::Alerts,
        main: h.into_string(),
        open_alerts: Some(open_alerts),
    })
}

fn filters(h: &mut Html<'_>, state: &AppState, status: &str, filter: &AlertFilter) {
    h.raw("<form class=\"filters\" method=\"get\" action=\"/alerts\" role=\"search\" aria-label=\"Filter alerts\">");
    h.raw("<label>Status <select name=\"status\">");
    let mut options: Vec<&str> = vec!["open", "all"];
    options.extend(AlertStatus::ALL.iter().map(|s| s.as_str()));
    for o in options {
        h.put("<option value=\"{}\"", &[&o]);
        h.raw(if o.eq_ignore_ascii_case(status) {
            " selected"
        } else {
            ""
        });
        h.put(">{}</option>", &[&o]);
    }
    h.raw("</select></label>");
    let workflows: Vec<&str> = state
        .config()
        .workflows
        .iter()
        .map(|w| w.name.as_str())
        .collect();
    let environments: Vec<&str> = state
        .config()
        .environments
        .keys()
        .map(String::as_str)
        .collect();
    choice(
        h,
        "Workflow",
        "workflow",
        &workflows,
        filter.workflow.as_deref(),
    );
    choice(
        h,
        "Environment",
        "environment",
        &environments,
        filter.environment.as_deref(),
    );
    h.raw("<button type=\"submit\">Filter</button></form>");
}

fn choice(h: &mut Html<'_>, label: &str, name: &str, values: &[&str], current: Option<&str>) {
    h.put(
        "<label>{} <select name=\"{}\"><option value=\"\">any</option>",
        &[&label, &name],
    );
    let mut listed = false;
    for v in values {
        let selected = current == Some(*v);
        listed |= selected;
        h.put("<option value=\"{}\"", &[v]);
        h.raw(if selected { " selected" } else { "" });
        h.put(">{}</option>", &[v]);
    }
    if let Some(c) = current.filter(|_| !listed) {
        h.put("<option value=\"{}\" selected>{}</option>", &[&c, &c]);
    }
    h.raw("</select></label>");
}

fn item(h: &mut Html<'_>, a: &Alert) {
    h.put(
        "<li class=\"alert\" id=\"alert-{}\" data-alert=\"{}\"><div class=\"alert-head\">",
        &[&a.alert_id, &a.alert_id],
    );
    alert_badge(h, a.status);
    h.put(
        " <span class=\"sev sev-{}\">{}</span> <a href=\"/workflows/{}\">{}</a> in {} <span class=\"muted\">rule {}</span></div><p class=\"alert-msg\">{}</p><dl class=\"facts\"><div><dt>Triggered</dt><dd>",
        &[
            &a.severity.as_str().to_ascii_lowercase(),
            &a.severity,
            &url_part(&a.workflow_name),
            &a.workflow_name,
            &a.environment,
            &a.rule_id,
            &a.message,
        ],
    );
    time(h, Some(a.triggered_at));
    h.put(
        "</dd></div><div><dt>Occurrences</dt><dd>{}</dd></div>",
        &[&a.occurrences],
    );
    if let Some(by) = &a.acknowledged_by {
        h.put("<div><dt>Acknowledged</dt><dd>by {} at ", &[by]);
        time(h, a.acknowledged_at);
        h.raw("</dd></div>");
    }
    if a.status == AlertStatus::Silenced
        && let Some(meta) = a.metadata.as_ref().map(|m| &m.0)
    {
        let field = |k: &str| {
            meta.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        if let Ok(until) = Timestamp::parse(&field("silencedUntil")) {
            h.raw("<div><dt>Silenced</dt><dd>until ");
            time(h, Some(until));
            h.put(
                " by {}: {}</dd></div>",
                &[&field("silencedBy"), &field("silenceReason")],
            );
        } else if let Some(why) = meta.get("silencedReason").and_then(|v| v.as_str()) {
            h.put("<div><dt>Silenced</dt><dd>{}</dd></div>", &[&why]);
        }
    }
    if let Some(by) = &a.resolved_by {
        h.put("<div><dt>Resolved</dt><dd>by {} at ", &[by]);
        time(h, a.resolved_at);
        h.raw("</dd></div>");
    }
    h.raw("</dl>");
    actions(h, a);
    h.raw("</li>");
}

fn actions(h: &mut Html<'_>, a: &Alert) {
    let allowed = |action: &AlertAction| action.applies_to().contains(&a.status);
    if a.status == AlertStatus::Resolved {
        return;
    }
    let id = url_part(&a.alert_id);
    let label = format!("{} in {}", a.workflow_name, a.environment);
    h.raw("<div class=\"actions\">");
    // A silenced alert may already be acknowledged: acknowledging it again is refused.
    if allowed(&AlertAction::Acknowledge) && a.acknowledged_by.is_none() {
        h.put(
            "<button type=\"button\" class=\"act primary\" data-url=\"/api/alerts/{}/acknowledge\" data-done=\"Alert acknowledged\">Acknowledge<span class=\"sr\"> {}</span></button>",
            &[&id, &label],
        );
    }
    h.put(
        "<button type=\"button\" class=\"act\" data-url=\"/api/alerts/{}/resolve\" data-done=\"Alert resolved\">Resolve<span class=\"sr\"> {}</span></button>",
        &[&id, &label],
    );
    h.put(
        "<details class=\"silence\" id=\"silence-{}\"><summary>Silence…<span class=\"sr\"> {}</span></summary><form class=\"act-form\" data-url=\"/api/alerts/{}/silence\" data-done=\"Alert silenced\"><label>For <select name=\"for\">",
        &[&a.alert_id, &label, &id],
    );
    for (value, text) in SILENCES {
        h.put("<option value=\"{}\">{}</option>", &[value, text]);
    }
    h.put(
        "</select></label> <label>Reason <input name=\"reason\" required maxlength=\"500\" autocomplete=\"off\" id=\"reason-{}\"></label> <button type=\"submit\">Silence</button></form></details>",
        &[&a.alert_id],
    );
    h.raw("</div>");
}
