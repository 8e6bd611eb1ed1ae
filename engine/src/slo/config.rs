//! The `slos:` section and the `burn_rate` condition of alert rules, as written and
//! validated. Problems name file:line:column and the key path.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{BurnCondition, FAST_BURN, Objective, SLOW_BURN};
use crate::config::{Checker, Environment};
use crate::workflow::Workflow;

/// The longest window an objective may have (its runs are read from raw rows).
pub const MAX_SLO_WINDOW_DAYS: u64 = 90;

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlo {
    name: Spanned<String>,
    description: Option<String>,
    workflow: Spanned<String>,
    environment: Option<Spanned<String>>,
    objective: Spanned<RawObjective>,
    window: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    success: Option<Spanned<serde_json::Value>>,
    latency: Option<RawLatency>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    under: Spanned<String>,
    target: Spanned<serde_json::Value>,
}

/// `when: {burn_rate: {...}}` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBurnRate {
    slo: Spanned<String>,
    window: Option<Spanned<String>>,
    long: Option<Spanned<String>>,
    short: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    min_runs: Option<Spanned<i64>>,
}

/// A validated service level objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// Unique name.
    pub name: String,
    /// What it promises, for people.
    pub description: Option<String>,
    /// The workflow whose runs it counts.
    pub workflow: String,
    /// Only this environment; None: each environment of the workflow, separately.
    pub environment: Option<String>,
    /// What a good run is and the share required.
    pub objective: Objective,
    /// The rolling window.
    pub window: Duration,
}

impl Slo {
    /// The environments it has figures for: its own, or each one the workflow runs in.
    pub fn environments(&self, workflows: &[Workflow]) -> Vec<String> {
        match &self.environment {
            Some(env) => vec![env.clone()],
            None => workflows
                .iter()
                .find(|w| w.name == self.workflow)
                .map(|w| w.environments.clone())
                .unwrap_or_default(),
        }
    }
}

/// Reads `99.5%` as 0.995, refusing anything that is not a percentage in (0, 100).
fn percentage(c: &mut Checker, value: &Spanned<serde_json::Value>, key: &str) -> Option<f64> {
    let text = match &value.value {
        serde_json::Value::String(text) => text.trim().to_owned(),
        other => {
            c.issue_at(
                value,
                key,
                format!("`{other}`: write the target as a percentage, e.g. 99.5%"),
            );
            return None;
        }
    };
    let number = text
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok());
    match number {
        Some(n) if n > 0.0 && n < 100.0 => Some(n / 100.0),
        Some(_) => {
            c.issue_at(
                value,
                key,
                format!("`{text}`: a target is above 0% and below 100%"),
            );
            None
        }
        None => {
            c.issue_at(
                value,
                key,
                format!("`{text}` is not a percentage: write e.g. 99.5%"),
            );
            None
        }
    }
}

fn objective(c: &mut Checker, raw: &Spanned<RawObjective>, key: &str) -> Option<Objective> {
    match (&raw.value.success, &raw.value.latency) {
        (Some(target), None) => percentage(c, target, &format!("{key}.success"))
            .map(|target| Objective::Success { target }),
        (None, Some(latency)) => {
            let target = percentage(c, &latency.target, &format!("{key}.latency.target"));
            let under = c.duration(&latency.under, &format!("{key}.latency.under"));
            // Durations are refused at 0 already.
            let threshold_ms = under.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            Some(Objective::Latency {
                threshold_ms: threshold_ms?,
                target: target?,
            })
        }
        _ => {
            c.issue_at(
                raw,
                key,
                "write exactly one of success: PERCENT (e.g. 99.5%) or latency: {under: \
                 DURATION, target: PERCENT} (e.g. {under: 2s, target: 99%})",
            );
            None
        }
    }
}

/// Validates the entries of one file; `seen` holds the names of earlier files.
pub(crate) fn validate(
    raw: &[RawSlo],
    workflows: &[Workflow],
    environments: &BTreeMap<String, Environment>,
    seen: &mut BTreeSet<String>,
    c: &mut Checker,
) -> Vec<Slo> {
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("slos[{i}]");
        let before = c.issue_count();
        let name = c.unique_name(&r.name, &key, "SLO", seen);
        let workflow = workflows.iter().find(|w| w.name == r.workflow.value);
        if workflow.is_none() {
            c.issue_at(
                &r.workflow,
                &format!("{key}.workflow"),
                format!("unknown workflow `{}`", r.workflow.value),
            );
        }
        if let Some(e) = &r.environment {
            if !environments.contains_key(&e.value) {
                let defined: Vec<&str> = environments.keys().map(String::as_str).collect();
                c.issue_at(
                    e,
                    &format!("{key}.environment"),
                    format!(
                        "unknown environment `{}` (defined: {})",
                        e.value,
                        defined.join(", ")
                    ),
                );
            } else if let Some(w) = workflow
                && !w.environments.contains(&e.value)
            {
                c.issue_at(
                    e,
                    &format!("{key}.environment"),
                    format!(
                        "workflow `{}` does not run in `{}` (it runs in: {})",
                        w.name,
                        e.value,
                        w.environments.join(", ")
                    ),
                );
            }
        }
        let objective = objective(c, &r.objective, &format!("{key}.objective"));
        let window = c.duration(&r.window, &format!("{key}.window"));
        let max = Duration::from_secs(MAX_SLO_WINDOW_DAYS * 86_400);
        if let Some(w) = window
            && (w.is_zero() || w > max)
        {
            c.issue_at(
                &r.window,
                &format!("{key}.window"),
                format!("a window is longer than 0 and at most {MAX_SLO_WINDOW_DAYS} days"),
            );
        }
        if c.issue_count() != before {
            continue;
        }
        let (Some(objective), Some(window)) = (objective, window) else {
            continue;
        };
        out.push(Slo {
            name,
            description: r.description.clone(),
            workflow: r.workflow.value.clone(),
            environment: r.environment.as_ref().map(|e| e.value.clone()),
            objective,
            window,
        });
    }
    out
}

/// Validates `burn_rate: {slo, window: fast|slow}` or `{slo, long, short, factor}`.
pub(crate) fn burn_rate<'a>(
    raw: &Spanned<RawBurnRate>,
    slos: &'a [Slo],
    c: &mut Checker,
    key: &str,
) -> Option<(&'a Slo, BurnCondition)> {
    let b = &raw.value;
    let slo = slos.iter().find(|s| s.name == b.slo.value);
    if slo.is_none() {
        let defined: Vec<&str> = slos.iter().map(|s| s.name.as_str()).collect();
        c.issue_at(
            &b.slo,
            &format!("{key}.slo"),
            format!(
                "unknown SLO `{}` (defined under slos: {})",
                b.slo.value,
                if defined.is_empty() {
                    "none".to_owned()
                } else {
                    defined.join(", ")
                }
            ),
        );
    }
    let explicit = b.long.is_some() || b.short.is_some() || b.factor.is_some();
    let condition = match (&b.window, explicit) {
        (Some(w), false) => match w.value.trim() {
            "fast" => Some(FAST_BURN),
            "slow" => Some(SLOW_BURN),
            other => {
                c.issue_at(
                    w,
                    &format!("{key}.window"),
                    format!(
                        "`{other}`: write fast (14.4x over 1h and 5m) or slow (6x over 6h and \
                         30m), or give long, short and factor instead"
                    ),
                );
                None
            }
        },
        (None, true) => explicit_condition(b, c, key, raw),
        _ => {
            c.issue_at(
                raw,
                key,
                "write window: fast or window: slow, or long, short and factor (not both)",
            );
            None
        }
    };
    let mut condition = condition?;
    if let Some(min) = &b.min_runs {
        if min.value < 1 {
            c.issue_at(
                min,
                &format!("{key}.min_runs"),
                "min_runs is a whole number of runs, at least 1",
            );
            return None;
        }
        condition.min_runs = min.value;
    }
    Some((slo?, condition))
}

/// A burn-rate rule watches its objective's workflow (and environment, when the objective
/// has one): a rule that names others would be a contradiction.
pub(crate) fn check_burn_rule(
    workflows: Option<&Vec<Spanned<String>>>,
    tags: &[String],
    environments: Option<&Vec<Spanned<String>>>,
    slo: &Slo,
    key: &str,
    c: &mut Checker,
) {
    if let Some(first) = workflows.and_then(|l| l.first()) {
        c.issue_at(
            first,
            &format!("{key}.workflows"),
            format!(
                "a burn_rate rule watches the workflow of SLO `{}` ({}); remove workflows",
                slo.name, slo.workflow
            ),
        );
    }
    if !tags.is_empty() {
        c.issue(
            &format!("{key}.tags"),
            format!(
                "a burn_rate rule watches the workflow of SLO `{}`; remove tags",
                slo.name
            ),
        );
    }
    if let (Some(env), Some(list)) = (&slo.environment, environments) {
        for (j, e) in list.iter().enumerate() {
            if &e.value != env {
                c.issue_at(
                    e,
                    &format!("{key}.environments[{j}]"),
                    format!(
                        "SLO `{}` covers only `{env}`; a burn_rate rule on it cannot watch `{}`",
                        slo.name, e.value
                    ),
                );
            }
        }
    }
}

fn explicit_condition(
    b: &RawBurnRate,
    c: &mut Checker,
    key: &str,
    at: &Spanned<RawBurnRate>,
) -> Option<BurnCondition> {
    let (Some(long), Some(short), Some(factor)) = (&b.long, &b.short, &b.factor) else {
        c.issue_at(
            at,
            key,
            "give all of long, short and factor (e.g. long: 1h, short: 5m, factor: 14.4)",
        );
        return None;
    };
    let long_d = c.duration(long, &format!("{key}.long"));
    let short_d = c.duration(short, &format!("{key}.short"));
    if !(factor.value.is_finite() && factor.value > 0.0) {
        c.issue_at(
            factor,
            &format!("{key}.factor"),
            "a factor is a number above 0",
        );
        return None;
    }
    let (long_d, short_d) = (long_d?, short_d?);
    if short_d.is_zero() || short_d >= long_d {
        c.issue_at(
            short,
            &format!("{key}.short"),
            "the short window is longer than 0 and shorter than the long one",
        );
        return None;
    }
    Some(BurnCondition {
        long: long_d,
        short: short_d,
        factor: factor.value,
        min_runs: crate::slo::DEFAULT_MIN_RUNS,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
