//! The SLO section of a workflow's page: per objective and environment, the attained level
//! against the target, the error budget left and the burn rates (window, 1 h, 6 h).

use wfmon_engine::slo::SloStatus;

use super::charts::millis;
use super::html::Html;
use super::rate;

/// A burn rate as `2.5x`, or a dash without runs.
fn burn(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{r:.2}x"),
        None => "—".to_owned(),
    }
}

/// Writes the section; nothing when the workflow has no objective.
pub(super) fn slo_section(h: &mut Html<'_>, statuses: &[SloStatus]) {
    if statuses.is_empty() {
        return;
    }
    h.raw("<section aria-labelledby=\"slo-h\"><h2 id=\"slo-h\">Service level objectives</h2><div class=\"scroll\"><table><caption>Over each objective's rolling window, maintenance windows left out</caption><thead><tr><th scope=\"col\">Objective</th><th scope=\"col\">Environment</th><th scope=\"col\">Target</th><th scope=\"col\">Attained</th><th scope=\"col\">Budget left</th><th scope=\"col\">Burn rate</th><th scope=\"col\">1 h</th><th scope=\"col\">6 h</th></tr></thead><tbody>");
    for s in statuses {
        let what = match s.objective.under_ms {
            Some(ms) => format!(
                "{} under {}",
                rate(Some(s.objective.target)),
                millis(ms as f64)
            ),
            None => format!("{} passing", rate(Some(s.objective.target))),
        };
        let window = humanize(s.window_seconds);
        for e in &s.environments {
            // Overspent or nearly so is bad; under half left is a warning.
            let class = match e.figures.budget_left_fraction {
                Some(left) if left <= 0.0 => "b-bad",
                Some(left) if left < 0.5 => "b-warn",
                Some(_) => "b-ok",
                None => "b-none",
            };
            h.put(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{} over {}</td><td>{} <span class=\"muted\">({} of {} runs)</span></td><td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                &[
                    &s.name,
                    &e.environment,
                    &what,
                    &window,
                    &rate(e.figures.attained),
                    &e.figures.good,
                    &e.figures.runs,
                    &class,
                    &rate(e.figures.budget_left_fraction),
                    &burn(e.figures.burn_rate),
                    &burn(e.burn_rate_1h),
                    &burn(e.burn_rate_6h),
                ],
            );
        }
    }
    h.raw("</tbody></table></div></section>");
}

/// `30d`, `6h`, `90m` or `45s`: the largest whole unit.
fn humanize(seconds: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_in_their_largest_whole_unit() {
        assert_eq!(humanize(30 * 86_400), "30d");
        assert_eq!(humanize(6 * 3_600), "6h");
        assert_eq!(humanize(90 * 60), "90m");
        assert_eq!(humanize(45), "45s");
    }
}
