//! Charts drawn by wfmon as inline SVG: a sparkline of recent durations, a line of p95
//! durations and bars of success rates per bucket. Colours come from classes in the
//! stylesheet (so both themes apply); every chart has a text alternative, and each bar and
//! point a `<title>` with its numbers.

use wfmon_model::{ExecutionStatus, Timestamp};
use wfmon_store::SeriesPoint;

use super::html::Html;

/// Width and height of the large charts' coordinate system.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
/// Room for the axis labels.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

/// A sparkline of the durations of recent runs, oldest first, each point marked by outcome.
pub fn sparkline(h: &mut Html<'_>, runs: &[(i32, ExecutionStatus)]) {
    if runs.is_empty() {
        h.raw("<span class=\"muted\">no runs yet</span>");
        return;
    }
    let (w, ht) = (120.0, 28.0);
    let max = runs.iter().map(|r| r.0).max().unwrap_or(1).max(1) as f64;
    let min = runs.iter().map(|r| r.0).min().unwrap_or(0);
    let step = if runs.len() > 1 {
        (w - 4.0) / (runs.len() - 1) as f64
    } else {
        0.0
    };
    let at = |i: usize, d: i32| {
        let x = 2.0 + step * i as f64;
        let y = ht - 3.0 - (d as f64 / max) * (ht - 6.0);
        (x, y)
    };
    let points: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (x, y) = at(i, r.0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let label = format!(
        "Durations of the last {} runs: from {} to {}",
        runs.len(),
        millis(f64::from(min)),
        millis(max)
    );
    h.put(
        "<svg class=\"spark\" viewBox=\"0 0 120 28\" width=\"120\" height=\"28\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        &[&label, &label],
    );
    h.put(
        "<polyline class=\"c-line\" fill=\"none\" points=\"{}\"/>",
        &[&points.join(" ")],
    );
    for (i, r) in runs.iter().enumerate() {
        let (x, y) = at(i, r.0);
        if !r.1.is_success() {
            h.put(
                "<circle class=\"c-bad\" cx=\"{}\" cy=\"{}\" r=\"2.5\"/>",
                &[&format!("{x:.1}"), &format!("{y:.1}")],
            );
        }
    }
    h.raw("</svg>");
}

/// Bars of the success rate per bucket; buckets without runs show a thin grey mark.
pub fn success_bars(h: &mut Html<'_>, points: &[SeriesPoint], caption: &str) {
    let n = points.len().max(1) as f64;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n;
    let bar = (slot * 0.8).max(1.0);
    open_chart(h, caption);
    axis_y(h, &["100%", "50%", "0%"]);
    for (i, p) in points.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        match p.stats.success_rate {
            Some(rate) => {
                let height = (rate * plot_h).max(1.5);
                let y = TOP + plot_h - height;
                let class = if rate >= 0.99 {
                    "c-ok"
                } else if rate >= 0.9 {
                    "c-warn"
                } else {
                    "c-bad"
                };
                let title = format!(
                    "{}: {:.1}% of {} runs passed",
                    p.bucket_start.as_datetime().format("%Y-%m-%d %H:%M UTC"),
                    rate * 100.0,
                    p.stats.runs
                );
                h.put(
                    "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
                    &[&class, &f1(x), &f1(y), &f1(bar), &f1(height), &title],
                );
            }
            None => {
                h.put(
                    "<rect class=\"c-empty\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"1\"/>",
                    &[&f1(x), &f1(TOP + plot_h - 1.0), &f1(bar)],
                );
            }
        }
    }
    axis_x(h, points);
    h.raw("</svg>");
}

/// A line of the p95 duration per bucket; gaps where a bucket had no runs.
pub fn duration_line(h: &mut Html<'_>, points: &[SeriesPoint], caption: &str) {
    let max = points
        .iter()
        .filter_map(|p| p.stats.p95_duration_ms)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let n = points.len().max(1) as f64;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n;
    open_chart(h, caption);
    let top = millis(max);
    let mid = millis(max / 2.0);
    axis_y(h, &[top.as_str(), mid.as_str(), "0"]);
    let mut segment: Vec<String> = Vec::new();
    let mut segments: Vec<Vec<String>> = Vec::new();
    let mut marks = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot / 2.0;
        match p.stats.p95_duration_ms {
            Some(d) => {
                let y = TOP + plot_h - d / max * plot_h;
                segment.push(format!("{x:.1},{y:.1}"));
                marks.push((x, y, p, d));
            }
            None => {
                if !segment.is_empty() {
                    segments.push(std::mem::take(&mut segment));
                }
            }
        }
    }
    if !segment.is_empty() {
        segments.push(segment);
    }
    for s in segments {
        h.put(
            "<polyline class=\"c-line\" fill=\"none\" points=\"{}\"/>",
            &[&s.join(" ")],
        );
    }
    for (x, y, p, d) in marks {
        let title = format!(
            "{}: p95 {} over {} runs",
            p.bucket_start.as_datetime().format("%Y-%m-%d %H:%M UTC"),
            millis(d),
            p.stats.runs
        );
        h.put(
            "<circle class=\"c-point\" cx=\"{}\" cy=\"{}\" r=\"3\"><title>{}</title></circle>",
            &[&f1(x), &f1(y), &title],
        );
    }
    axis_x(h, points);
    h.raw("</svg>");
}

/// A horizontal bar for a step's share of the run's time.
pub fn timing_bar(h: &mut Html<'_>, offset_ms: f64, duration_ms: f64, total_ms: f64) {
    let total = total_ms.max(1.0);
    let x = (offset_ms / total * 200.0).clamp(0.0, 199.0);
    let w = (duration_ms / total * 200.0).clamp(1.0, 200.0 - x);
    h.put(
        "<svg class=\"timing\" viewBox=\"0 0 200 10\" width=\"200\" height=\"10\" aria-hidden=\"true\"><rect class=\"c-track\" x=\"0\" y=\"2\" width=\"200\" height=\"6\"/><rect class=\"c-line-fill\" x=\"{}\" y=\"1\" width=\"{}\" height=\"8\"/></svg>",
        &[&f1(x), &f1(w)],
    );
}

fn open_chart(h: &mut Html<'_>, caption: &str) {
    h.put(
        "<svg class=\"chart\" viewBox=\"0 0 640 180\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        &[&caption, &caption],
    );
}

fn axis_y(h: &mut Html<'_>, labels: &[&str; 3]) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    for (i, label) in labels.iter().enumerate() {
        let y = TOP + plot_h * i as f64 / 2.0;
        h.put(
            "<line class=\"c-grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"c-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            &[&f1(LEFT), &f1(WIDTH - 8.0), &f1(y), &f1(y), &f1(LEFT - 6.0), &f1(y + 4.0), label],
        );
    }
}

fn axis_x(h: &mut Html<'_>, points: &[SeriesPoint]) {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return;
    };
    let format = |t: Timestamp| t.as_datetime().format("%m-%d %H:%M").to_string();
    h.put(
        "<text class=\"c-label\" x=\"{}\" y=\"{}\">{}</text><text class=\"c-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        &[
            &f1(LEFT),
            &f1(HEIGHT - 4.0),
            &format(first.bucket_start),
            &f1(WIDTH - 8.0),
            &f1(HEIGHT - 4.0),
            &format(last.bucket_start),
        ],
    );
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// A duration for people: `850 ms`, `2.4 s`, `3.1 min`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfmon_store::RunStats;

    fn keep(text: &str) -> String {
        text.to_owned()
    }

    fn point(minute: i64, rate: Option<f64>, p95: Option<f64>) -> SeriesPoint {
        SeriesPoint {
            bucket_start: Timestamp::from_unix_millis(minute * 60_000).unwrap(),
            stats: RunStats {
                runs: i64::from(rate.is_some()) * 10,
                passed: rate.map(|r| (r * 10.0) as i64).unwrap_or(0),
                failed: 0,
                success_rate: rate,
                p95_duration_ms: p95,
            },
        }
    }

    #[test]
    fn bars_show_rates_and_empty_buckets() {
        let mut h = Html::new(&keep);
        let points = [
            point(0, Some(1.0), Some(100.0)),
            point(1, None, None),
            point(2, Some(0.5), Some(300.0)),
        ];
        success_bars(&mut h, &points, "Success <rate>");
        let svg = h.into_string();
        assert!(svg.contains("Success &lt;rate&gt;"), "{svg}");
        assert!(svg.contains("class=\"c-ok\"") && svg.contains("class=\"c-bad\""));
        assert!(svg.contains("class=\"c-empty\""));
        assert!(svg.contains("50.0% of 10 runs passed"));
    }

    #[test]
    fn lines_break_at_empty_buckets() {
        let mut h = Html::new(&keep);
        let points = [
            point(0, Some(1.0), Some(100.0)),
            point(1, Some(1.0), Some(200.0)),
            point(2, None, None),
            point(3, Some(1.0), Some(50.0)),
        ];
        duration_line(&mut h, &points, "p95");
        let svg = h.into_string();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("p95 200 ms over 10 runs"));
    }

    #[test]
    fn sparklines_mark_failures() {
        let mut h = Html::new(&keep);
        sparkline(
            &mut h,
            &[
                (100, ExecutionStatus::Passed),
                (900, ExecutionStatus::Failed),
                (1500, ExecutionStatus::Passed),
            ],
        );
        let svg = h.into_string();
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("from 100 ms to 1.5 s"), "{svg}");
    }
}
