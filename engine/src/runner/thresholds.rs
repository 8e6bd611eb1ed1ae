//! Thresholds: limits on the run's `total_duration` and on step metrics, checked once the
//! run is over (so they never stop a run midway). A soft breach makes the step and the run
//! WARNING; a hard breach makes them FAILED.

use wfmon_model::StepStatus;

use super::outcome::{StepOutcome, ThresholdBreach};
use crate::workflow::Threshold;

/// Every breach, in threshold order; steps whose metrics breached are marked.
pub(crate) fn check(
    thresholds: &[Threshold],
    total_duration_ms: u64,
    steps: &mut [StepOutcome],
) -> Vec<ThresholdBreach> {
    let mut breaches = Vec::new();
    for threshold in thresholds {
        if threshold.metric == "total_duration" {
            let value = total_duration_ms as f64;
            if value > threshold.max {
                breaches.push(breach(threshold, threshold.metric.clone(), value));
            }
            continue;
        }
        for step in steps.iter_mut() {
            // `<step>.<metric>` names one step's metric; a bare name, that metric in every step.
            let found = step.metrics.iter().find(|(name, _, _)| {
                threshold.metric == *name || threshold.metric == format!("{}.{name}", step.name)
            });
            let Some((name, value, _)) = found else {
                continue;
            };
            if *value <= threshold.max {
                continue;
            }
            let b = breach(threshold, format!("{}.{name}", step.name), *value);
            mark(step, &b);
            breaches.push(b);
        }
    }
    breaches
}

fn breach(threshold: &Threshold, metric: String, value: f64) -> ThresholdBreach {
    ThresholdBreach {
        metric,
        value,
        max: threshold.max,
        soft: threshold.soft,
    }
}

fn mark(step: &mut StepOutcome, b: &ThresholdBreach) {
    match (b.soft, step.status) {
        (true, StepStatus::Passed) => {
            step.status = StepStatus::Warning;
            step.error = Some(describe(b));
        }
        (false, StepStatus::Passed | StepStatus::Warning) => {
            step.status = StepStatus::Failed;
            step.error = Some(describe(b));
        }
        _ => {}
    }
}

/// `login.response_time is 812, over its hard threshold of 500`.
pub(crate) fn describe(b: &ThresholdBreach) -> String {
    format!(
        "{} is {}, over its {} threshold of {}",
        b.metric,
        number(b.value),
        if b.soft { "soft" } else { "hard" },
        number(b.max)
    )
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfmon_model::Timestamp;

    fn step(name: &str, response_time: f64) -> StepOutcome {
        StepOutcome {
            order: 0,
            name: name.into(),
            kind: "http",
            is_cleanup: false,
            status: StepStatus::Passed,
            started_at: Timestamp::now(),
            duration_ms: 0,
            response_time_ms: None,
            http_status: None,
            assertions: vec![],
            captured: vec![],
            error: None,
            health: None,
            tests: vec![],
            metrics: vec![("response_time".into(), response_time, Some("ms".into()))],
        }
    }

    fn limit(metric: &str, max: f64, soft: bool) -> Threshold {
        Threshold {
            metric: metric.into(),
            max,
            soft,
        }
    }

    #[test]
    fn qualified_bare_and_total_thresholds() {
        let mut steps = vec![step("login", 800.0), step("me", 100.0)];
        let breaches = check(
            &[
                limit("login.response_time", 500.0, true),
                limit("response_time", 50.0, false),
                limit("total_duration", 1000.0, false),
                limit("missing.metric", 1.0, false),
            ],
            1500,
            &mut steps,
        );
        let names: Vec<(&str, bool)> = breaches
            .iter()
            .map(|b| (b.metric.as_str(), b.soft))
            .collect();
        assert_eq!(
            names,
            vec![
                ("login.response_time", true),
                ("login.response_time", false),
                ("me.response_time", false),
                ("total_duration", false),
            ]
        );
        assert_eq!(steps[0].status, StepStatus::Failed);
        assert_eq!(
            steps[0].error.as_deref(),
            Some("login.response_time is 800, over its hard threshold of 50")
        );
        assert_eq!(steps[1].status, StepStatus::Failed);
        assert_eq!(
            describe(&breaches[3]),
            "total_duration is 1500, over its hard threshold of 1000"
        );
    }
}
