//! The dashboard: server-rendered pages over the same store reads as the API (`/`, a
//! workflow, an execution, alerts and one alert, reports), one stylesheet and one script of
//! our own, and
//! charts drawn here as SVG. No third-party code and nothing fetched from elsewhere: the
//! pages carry a strict content policy (own script and styles only).
//!
//! Pages are whole documents; the script keeps them live by subscribing to
//! `/api/events` and, on an event, fetching the same URL again and swapping its `<main>`.
//! Every state-changing request of the script goes through its one `send()` function,
//! which adds the `X-CSRF-Token` header when the page carries a `csrf-token` meta tag.

mod alerts;
mod charts;
mod execution;
mod html;
mod overview;
mod reports;
mod slos;
mod workflow;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wfmon_model::{AlertStatus, ExecutionStatus, HealthStatus, NotificationLog, Timestamp};

use crate::auth::{Principal, Via};
use crate::error::ApiError;
use crate::state::AppState;
use html::Html;

/// The content policy of every page: own scripts, styles and fetches only; images may be
/// inline data; no framing, forms post only here.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'";

const SCRIPT: &str = include_str!("../../assets/dash.js");
const STYLE: &str = include_str!("../../assets/dash.css");

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/workflows/{name}", get(workflow::page))
        .route("/executions/{runId}", get(execution::page))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{alertId}", get(alerts::detail))
        .route("/reports", get(reports::list))
        .route("/reports/{reportId}", get(reports::detail))
        .route("/assets/dash.js", get(script))
        .route("/assets/dash.css", get(style))
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Served from the binary: a new version of wfmon is a new process, so an hour is safe.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Which section of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The overview and workflow and execution pages.
    Overview,
    /// Alerts.
    Alerts,
    /// Reports.
    Reports,
}

/// A page: its title, section and the content of `<main>`.
pub struct Page {
    /// `<title>` and heading context.
    pub title: String,
    /// Navigation entry marked current.
    pub section: Section,
    /// The markup inside `<main>`.
    pub main: String,
    /// Open alerts, for the navigation's count.
    pub open_alerts: Option<i64>,
}

impl Page {
    /// The whole document, answered with the page content policy.
    /// `viewer` is who asks: the CSRF token of their session goes in
    /// `<meta name="csrf-token">` (the script sends it back), their name beside a logout button.
    pub fn respond(self, state: &AppState, viewer: &Principal, status: StatusCode) -> Response {
        let redact = |text: &str| state.redact(text);
        let mut h = Html::new(&redact);
        h.put(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <title>{} · wfmon</title>",
            &[&self.title],
        );
        if let Some(token) = &viewer.csrf_token {
            h.put("<meta name=\"csrf-token\" content=\"{}\">", &[token]);
        }
        h.raw(
            "<link rel=\"stylesheet\" href=\"/assets/dash.css\">\
             <script src=\"/assets/dash.js\"></script></head><body>\
             <a class=\"skip\" href=\"#main\">Skip to content</a>\
             <header class=\"top\"><a class=\"brand\" href=\"/\">wfmon</a>\
             <nav aria-label=\"Main\"><ul>",
        );
        h.append(nav_items(&redact, self.section, self.open_alerts));
        h.raw(
            "</ul></nav><button type=\"button\" id=\"theme-toggle\" class=\"ghost\">Theme</button>",
        );
        if viewer.via == Via::Session {
            h.put(
                "<form method=\"post\" action=\"/logout\"><button type=\"submit\" class=\"ghost\">\
                 Log out {}</button></form>",
                &[&viewer.name],
            );
        }
        h.raw(
            "</header>\
             <div class=\"live-bar\"><p id=\"live-status\" role=\"status\" aria-live=\"polite\">\
             Live updates start when the page has loaded.</p>\
             <p id=\"notice\" role=\"alert\" class=\"notice\" hidden></p></div>\
             <main id=\"main\" tabindex=\"-1\">",
        );
        let mut out = h.into_string();
        out.push_str(&self.main);
        out.push_str(
            "</main><footer class=\"foot\"><p>wfmon · times in UTC · \
             <a href=\"/api/docs\">API</a></p></footer></body></html>\n",
        );
        page_response(out, status)
    }
}

fn nav_items<'a>(
    redact: &'a dyn Fn(&str) -> String,
    section: Section,
    open_alerts: Option<i64>,
) -> Html<'a> {
    let mut h = Html::new(redact);
    let mark = |s: Section| if s == section { "page" } else { "false" };
    h.put(
        "<li><a href=\"/\" aria-current=\"{}\">Overview</a></li>",
        &[&mark(Section::Overview)],
    );
    h.put(
        "<li><a href=\"/alerts\" aria-current=\"{}\">Alerts",
        &[&mark(Section::Alerts)],
    );
    if let Some(n) = open_alerts.filter(|n| *n > 0) {
        h.put(
            " <span class=\"count\" id=\"nav-alerts\" data-live>{}<span class=\"sr\"> open</span></span>",
            &[&n],
        );
    }
    h.raw("</a></li>");
    h.put(
        "<li><a href=\"/reports\" aria-current=\"{}\">Reports</a></li>",
        &[&mark(Section::Reports)],
    );
    h
}

fn page_response(body: String, status: StatusCode) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    // The logout form posts from here: `no-referrer` would make its `Origin` `null`, which
    // the authentication guard refuses.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// An error as a page: the status, and the message of the API error.
pub fn error_page(state: &AppState, viewer: &Principal, error: ApiError) -> Response {
    let redact = |text: &str| state.redact(text);
    let mut h = Html::new(&redact);
    let heading = match error.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        s if s.is_client_error() => "Cannot show this page",
        _ => "Something went wrong",
    };
    h.put(
        "<h1>{}</h1><p class=\"error-text\">{}</p><p><a href=\"/\">Back to the overview</a></p>",
        &[&heading, &error.message],
    );
    let mut response = Page {
        title: heading.to_owned(),
        section: Section::Overview,
        main: h.into_string(),
        open_alerts: None,
    }
    .respond(state, viewer, error.status);
    if error.from_store {
        response.extensions_mut().insert(crate::error::StoreFailure);
    }
    response
}

/// A page's result: the page, or an error page.
pub fn render(state: &AppState, viewer: &Principal, page: Result<Page, ApiError>) -> Response {
    match page {
        Ok(page) => page.respond(state, viewer, StatusCode::OK),
        Err(error) => error_page(state, viewer, error),
    }
}

/// The status badge of a run: colour from its class, and the status as text.
pub fn status_badge(h: &mut Html<'_>, status: Option<ExecutionStatus>) {
    let (class, text) = match status {
        None => ("none", "NO RUNS"),
        Some(s) => (
            match s {
                ExecutionStatus::Passed => "ok",
                ExecutionStatus::Warning => "warn",
                ExecutionStatus::Failed | ExecutionStatus::TimedOut => "bad",
                ExecutionStatus::Running => "run",
                ExecutionStatus::Aborted | ExecutionStatus::Skipped => "none",
            },
            s.as_str(),
        ),
    };
    let icon = match class {
        "ok" => "✓",
        "warn" => "!",
        "bad" => "✗",
        "run" => "…",
        _ => "–",
    };
    h.put(
        "<span class=\"badge b-{}\"><span aria-hidden=\"true\">{}</span> {}</span>",
        &[&class, &icon, &text],
    );
}

/// The badge of an alert status.
pub fn alert_badge(h: &mut Html<'_>, status: AlertStatus) {
    let class = match status {
        AlertStatus::Active | AlertStatus::Escalated => "bad",
        AlertStatus::Acknowledged | AlertStatus::Silenced => "warn",
        AlertStatus::Resolved => "ok",
    };
    h.put(
        "<span class=\"badge b-{}\">{}</span>",
        &[&class, &status.as_str()],
    );
}

/// The badge of a health state.
pub fn health_badge(h: &mut Html<'_>, status: HealthStatus) {
    let class = match status {
        HealthStatus::Healthy => "ok",
        HealthStatus::Degraded => "warn",
        HealthStatus::Unhealthy => "bad",
    };
    h.put(
        "<span class=\"badge b-{}\">{}</span>",
        &[&class, &status.as_str()],
    );
}

/// A Notifications section: the rows as a table (channel, type, status, recipient, time,
/// error), or `none` when there are none. Shared by the execution and alert pages.
pub fn notifications_section(h: &mut Html<'_>, rows: &[NotificationLog], id: &str, none: &str) {
    h.put(
        "<section aria-labelledby=\"{}\"><h2 id=\"{}\">Notifications</h2>",
        &[&id, &id],
    );
    if rows.is_empty() {
        h.put("<p class=\"muted\">{}</p>", &[&none]);
    } else {
        h.raw("<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Channel</th><th scope=\"col\">Type</th><th scope=\"col\">Status</th><th scope=\"col\">To</th><th scope=\"col\">At</th><th scope=\"col\">Error</th></tr></thead><tbody>");
        for n in rows {
            h.put(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>",
                &[
                    &n.channel_name.as_deref().unwrap_or(n.channel.as_str()),
                    &n.notification_type,
                    &n.status,
                    &n.recipient.as_deref().unwrap_or(""),
                ],
            );
            time(h, Some(n.sent_at));
            h.put(
                "</td><td>{}</td></tr>",
                &[&n.error_message.as_deref().unwrap_or("")],
            );
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("</section>");
}

/// A time for people, in a `<time>` element.
pub fn time(h: &mut Html<'_>, at: Option<Timestamp>) {
    match at {
        Some(at) => {
            h.put(
                "<time datetime=\"{}\">{}</time>",
                &[&at, &at.as_datetime().format("%Y-%m-%d %H:%M:%S")],
            );
        }
        None => {
            h.raw("<span class=\"muted\">—</span>");
        }
    }
}

/// A success rate as a percentage, or a dash.
pub fn rate(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "—".to_owned(),
    }
}
