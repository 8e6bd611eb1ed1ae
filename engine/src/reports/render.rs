//! A report as text: an aligned table for terminals, Markdown, JSON (the row with its
//! metadata), CSV (one line per group) and HTML (`html`).

use std::fmt::Write as _;
use std::str::FromStr;

use super::compose::{GroupSummary, percent};
use super::{Report, html};

/// The formats `wfmon report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned plain text.
    Table,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// The report row with its metadata, as JSON.
    Json,
    /// One line per group (total, each workflow, each environment).
    Csv,
    /// One self-contained page with inline SVG charts.
    Html,
}

impl ReportFormat {
    /// Every format, by name.
    pub const ALL: [(&'static str, ReportFormat); 5] = [
        ("table", ReportFormat::Table),
        ("markdown", ReportFormat::Markdown),
        ("json", ReportFormat::Json),
        ("csv", ReportFormat::Csv),
        ("html", ReportFormat::Html),
    ];
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase();
        let wanted = if wanted == "md" { "markdown" } else { &wanted };
        ReportFormat::ALL
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, format)| *format)
            .ok_or_else(|| {
                let names: Vec<&str> = ReportFormat::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown report format `{text}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// The report in a format.
pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Table => table(report),
        ReportFormat::Markdown => markdown(report),
        ReportFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&report.row).expect("a report row is plain data");
            text.push('\n');
            text
        }
        ReportFormat::Csv => csv(report),
        ReportFormat::Html => html::page(report),
    }
}

/// `12.3 ms`, or `-` when absent.
pub(crate) fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"))
}

/// A ratio as a percentage, or `-` when absent.
pub(crate) fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), percent)
}

/// A signed change, or `-` when absent.
pub(crate) fn signed(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:+.1}{unit}"))
}

/// The heading line: what, when, which filters.
pub(crate) fn title(report: &Report) -> String {
    let m = &report.metadata;
    let mut text = format!(
        "{} report {} to {}",
        report.row.report_type, report.row.start_time, report.row.end_time
    );
    if let Some(w) = &m.workflow {
        let _ = write!(text, ", workflow {w}");
    }
    if let Some(e) = &m.environment {
        let _ = write!(text, ", environment {e}");
    }
    if !m.tags.is_empty() {
        let _ = write!(text, ", tags {}", m.tags.join(", "));
    }
    text
}

/// The headline figures, labelled.
pub(crate) fn headline(report: &Report) -> Vec<(&'static str, String)> {
    let r = &report.row;
    let m = &report.metadata;
    vec![
        ("Runs", r.total_runs.to_string()),
        ("Passed", r.successful_runs.to_string()),
        ("Failed", r.failed_runs.to_string()),
        ("Success rate", rate(m.success_rate)),
        ("Average duration", ms(m.avg_duration_ms)),
        ("p50 duration", ms(m.p50_duration_ms)),
        ("p95 duration", ms(m.p95_duration_ms)),
        ("p99 duration", ms(m.p99_duration_ms)),
        ("Flaky runs", m.flaky_runs.to_string()),
        (
            "Alerts opened / resolved / open at end",
            format!(
                "{} / {} / {}",
                m.alerts.opened, m.alerts.resolved, m.alerts.open_at_end
            ),
        ),
        (
            "Change in runs vs previous window",
            format!("{:+}", m.change.runs),
        ),
        (
            "Change in success rate",
            signed(m.change.success_rate.map(|v| v * 100.0), " pt"),
        ),
        (
            "Change in p95 duration",
            signed(m.change.p95_duration_ms, " ms"),
        ),
    ]
}

/// Header and cells of a breakdown table.
pub(crate) fn group_rows(groups: &[GroupSummary]) -> Vec<[String; 6]> {
    groups
        .iter()
        .map(|g| {
            [
                g.name.clone(),
                g.runs.to_string(),
                g.failed.to_string(),
                rate(g.success_rate),
                ms(g.avg_duration_ms),
                ms(g.p95_duration_ms),
            ]
        })
        .collect()
}

/// Column titles of a breakdown table.
pub(crate) const GROUP_HEADER: [&str; 6] = ["Name", "Runs", "Failed", "Success", "Avg", "p95"];

/// One titled table of a report: the breakdowns and the step lists, the same in every
/// format (text, Markdown, HTML), which only differ in how they draw it.
pub(crate) struct Section {
    pub title: &'static str,
    pub header: &'static [&'static str],
    pub rows: Vec<Vec<String>>,
}

/// The report's tables in their order, leaving out the empty ones.
pub(crate) fn sections(report: &Report) -> Vec<Section> {
    let m = &report.metadata;
    let groups = |title, groups: &[GroupSummary]| Section {
        title,
        header: &GROUP_HEADER,
        rows: group_rows(groups).into_iter().map(Vec::from).collect(),
    };
    let all = [
        groups("Workflows", &m.workflows),
        groups("Environments", &m.environments),
        Section {
            title: "Slowest steps",
            header: &["Workflow", "Step", "Runs", "p95", "Avg"],
            rows: m
                .slowest_steps
                .iter()
                .map(|s| {
                    vec![
                        s.workflow.clone(),
                        s.step.clone(),
                        s.runs.to_string(),
                        ms(s.p95_duration_ms),
                        ms(Some(s.avg_duration_ms)),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Failing steps",
            header: &["Workflow", "Step", "Failures", "Runs"],
            rows: m
                .failing_steps
                .iter()
                .map(|s| {
                    vec![
                        s.workflow.clone(),
                        s.step.clone(),
                        s.failures.to_string(),
                        s.runs.to_string(),
                    ]
                })
                .collect(),
        },
        Section {
            title: "Failing assertions",
            header: &["Workflow", "Step", "Assertion", "Failures"],
            rows: m
                .failing_assertions
                .iter()
                .map(|a| {
                    vec![
                        a.workflow_name.clone(),
                        a.step_name.clone(),
                        a.assertion.clone(),
                        a.failures.to_string(),
                    ]
                })
                .collect(),
        },
    ];
    all.into_iter().filter(|t| !t.rows.is_empty()).collect()
}

fn aligned(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
}

fn table(report: &Report) -> String {
    let m = &report.metadata;
    let mut out = format!("{}\n{}\n\n", title(report), m.summary);
    let facts = headline(report);
    let width = facts.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in &facts {
        let _ = writeln!(out, "  {label:<width$}  {value}");
    }
    for section in sections(report) {
        let _ = writeln!(out, "\n{}", section.title);
        aligned(&mut out, section.header, &section.rows);
    }
    out
}

/// Escapes text for Markdown: its syntax characters, and HTML as entities (Markdown
/// renderers pass raw HTML through).
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn md_table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn markdown(report: &Report) -> String {
    let m = &report.metadata;
    let mut out = format!("# {}\n\n{}\n\n", md(&title(report)), md(&m.summary));
    let facts: Vec<Vec<String>> = headline(report)
        .into_iter()
        .map(|(l, v)| vec![l.to_owned(), v])
        .collect();
    md_table(&mut out, &["Figure", "Value"], &facts);
    for section in sections(report) {
        let _ = writeln!(out, "\n## {}\n", section.title);
        md_table(&mut out, section.header, &section.rows);
    }
    out
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A figure for a CSV cell: at most six decimals (a ratio keeps its precision; a percentile
/// interpolated in floating point loses its last-digit noise, `713.0999999999999` → `713.1`),
/// without trailing zeros.
fn number(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| {
        let text = format!("{v:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }
    })
}

fn csv(report: &Report) -> String {
    let m = &report.metadata;
    let mut out = String::from(
        "group,name,runs,passed,failed,success_rate,total_duration_ms,avg_duration_ms,\
         p50_duration_ms,p95_duration_ms,p99_duration_ms\n",
    );
    let total = GroupSummary {
        name: String::new(),
        runs: report.row.total_runs,
        passed: report.row.successful_runs,
        failed: report.row.failed_runs,
        flaky: m.flaky_runs,
        success_rate: m.success_rate,
        total_duration_ms: report.row.total_duration_ms,
        avg_duration_ms: m.avg_duration_ms,
        p50_duration_ms: m.p50_duration_ms,
        p95_duration_ms: m.p95_duration_ms,
        p99_duration_ms: m.p99_duration_ms,
    };
    let groups = std::iter::once(("total", &total))
        .chain(m.workflows.iter().map(|g| ("workflow", g)))
        .chain(m.environments.iter().map(|g| ("environment", g)));
    for (kind, g) in groups {
        let _ = writeln!(
            out,
            "{kind},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&g.name),
            g.runs,
            g.passed,
            g.failed,
            number(g.success_rate),
            g.total_duration_ms,
            number(g.avg_duration_ms),
            number(g.p50_duration_ms),
            number(g.p95_duration_ms),
            number(g.p99_duration_ms),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name_and_unknown_ones_list_the_choices() {
        assert_eq!("HTML".parse::<ReportFormat>(), Ok(ReportFormat::Html));
        assert_eq!("md".parse::<ReportFormat>(), Ok(ReportFormat::Markdown));
        let err = "pdf".parse::<ReportFormat>().unwrap_err();
        assert!(err.contains("`pdf`"), "{err}");
        assert!(err.contains("table, markdown, json, csv, html"), "{err}");
    }

    #[test]
    fn csv_numbers_have_at_most_six_decimals() {
        assert_eq!(number(Some(713.0999999999999)), "713.1");
        assert_eq!(number(Some(944.2199999999999)), "944.22");
        assert_eq!(number(Some(0.9995)), "0.9995");
        assert_eq!(number(Some(1.0)), "1");
        assert_eq!(number(Some(1200.0)), "1200");
        assert_eq!(number(Some(-0.0000001)), "0");
        assert_eq!(number(None), "");
    }

    #[test]
    fn csv_and_markdown_cells_are_escaped() {
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(md("a|b<c>"), "a\\|b&lt;c&gt;");
    }
}
