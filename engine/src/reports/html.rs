//! A report as one self-contained HTML page: no script, no external resource, every text
//! from the data escaped, and two inline SVG charts over the window's buckets (success rate
//! and p95 duration).

use std::fmt::Write as _;

use super::Report;
use super::compose::SeriesPoint;
use super::render::{headline, sections, title};
use crate::notify::notice::escape_html as esc;

const CHART_WIDTH: f64 = 640.0;
const CHART_HEIGHT: f64 = 160.0;
const PAD: f64 = 36.0;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}\
td,th{border:1px solid #ccc;padding:0.25rem 0.6rem;text-align:left}\
th{background:#f3f3f3}svg{background:#fafafa;border:1px solid #ddd}\
.chart text{font-size:11px;fill:#555}";

/// The page.
pub fn page(report: &Report) -> String {
    let m = &report.metadata;
    let heading = esc(&title(report));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\
         <title>{heading}</title><style>{STYLE}</style></head><body>\n\
         <h1>{heading}</h1>\n<p>{}</p>\n",
        esc(&m.summary)
    );
    let facts: Vec<Vec<String>> = headline(report)
        .into_iter()
        .map(|(l, v)| vec![l.to_owned(), v])
        .collect();
    table(&mut out, &["Figure", "Value"], &facts);
    let from = report.row.start_time.unix_millis();
    let to = report.row.end_time.unix_millis();
    out.push_str("<h2>Success rate</h2>\n");
    chart(&mut out, &m.series, from, to, "success rate", |p| {
        p.success_rate.map(|r| (r, format!("{:.1}%", r * 100.0)))
    });
    let max_p95 = m
        .series
        .iter()
        .filter_map(|p| p.p95_duration_ms)
        .fold(0.0_f64, f64::max);
    out.push_str("<h2>p95 duration</h2>\n");
    chart(&mut out, &m.series, from, to, "p95 duration", |p| {
        p.p95_duration_ms.map(|v| {
            let y = if max_p95 > 0.0 { v / max_p95 } else { 0.0 };
            (y, format!("{v:.0} ms"))
        })
    });
    for section in sections(report) {
        let _ = writeln!(out, "<h2>{}</h2>", section.title);
        table(&mut out, section.header, &section.rows);
    }
    if !m.alerts.items.is_empty() {
        out.push_str("<h2>Alerts</h2>\n");
        let rows: Vec<Vec<String>> = m
            .alerts
            .items
            .iter()
            .map(|a| {
                vec![
                    a.rule_id.clone(),
                    a.workflow.clone(),
                    a.environment.clone(),
                    a.severity.to_string(),
                    a.triggered_at.to_string(),
                    a.resolved_at.map(|t| t.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "Rule",
                "Workflow",
                "Environment",
                "Severity",
                "Opened",
                "Resolved",
            ],
            &rows,
        );
    }
    let _ = writeln!(
        out,
        "<p><small>Report {} generated {}</small></p>\n</body></html>",
        esc(&report.row.report_id),
        report.row.generated_at
    );
    out
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// A line chart of one value per bucket: `value` gives the height in [0, 1] and a label.
/// Buckets sit at their start time within `[from, to)`.
fn chart(
    out: &mut String,
    series: &[SeriesPoint],
    from: i64,
    to: i64,
    what: &str,
    value: impl Fn(&SeriesPoint) -> Option<(f64, String)>,
) {
    let span = (to - from).max(1) as f64;
    let inner_w = CHART_WIDTH - 2.0 * PAD;
    let inner_h = CHART_HEIGHT - 2.0 * PAD;
    let points: Vec<(f64, f64, String, &SeriesPoint)> = series
        .iter()
        .filter_map(|p| {
            let (y, label) = value(p)?;
            let x = PAD + inner_w * ((p.bucket_start.unix_millis() - from) as f64 / span);
            let y = PAD + inner_h * (1.0 - y.clamp(0.0, 1.0));
            Some((x, y, label, p))
        })
        .collect();
    let _ = writeln!(
        out,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" \
         height=\"{CHART_HEIGHT}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" \
         aria-label=\"{} over the window\">",
        esc(what)
    );
    let _ = writeln!(
        out,
        "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#999\"/>\
         <line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#999\"/>",
        b = CHART_HEIGHT - PAD,
        r = CHART_WIDTH - PAD,
    );
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no runs in this window</text>",
            CHART_WIDTH / 2.0,
            CHART_HEIGHT / 2.0
        );
    } else {
        let line: Vec<String> = points
            .iter()
            .map(|(x, y, _, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for (x, y, label, p) in &points {
            let _ = writeln!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"#2b6cb0\">\
                 <title>{}: {} ({} runs)</title></circle>",
                p.bucket_start,
                esc(label),
                p.runs
            );
        }
    }
    out.push_str("</svg>\n");
}
