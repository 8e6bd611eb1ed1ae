//! The `alerts:` section as written, and its validation: rules (with defaults shared by all
//! of them), silences and maintenance windows. Problems name the key path.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;
use wfmon_model::{AlertSeverity, HealthStatus, Timestamp};

use super::rules::{Aggregate, AlertRule, AlertsConfig, Condition, MaintenanceWindow, Silence};
use crate::config::{Checker, Environment, parse_cron};
use crate::notify::channel_names;
use crate::workflow::{Schedule, Workflow};

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    #[serde(default)]
    defaults: RawRuleSettings,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    silences: Vec<RawSilence>,
    #[serde(default)]
    maintenance: Vec<RawMaintenance>,
    evaluate_every: Option<Spanned<String>>,
}

impl RawAlerts {
    /// Whether the file sets anything in this section.
    pub(crate) fn is_set(&self) -> bool {
        !self.rules.is_empty()
            || !self.silences.is_empty()
            || !self.maintenance.is_empty()
            || self.evaluate_every.is_some()
    }
}

/// Settings a rule may set and `alerts.defaults` sets for all of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSettings {
    severity: Option<Spanned<String>>,
    recover_after: Option<Spanned<u32>>,
    channels: Option<Vec<Spanned<String>>>,
    escalate_after: Option<Spanned<String>>,
    escalate_to: Option<Vec<Spanned<String>>>,
    remind_every: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    description: Option<String>,
    workflows: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    environments: Option<Vec<Spanned<String>>>,
    when: Spanned<RawWhen>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    severity: Option<Spanned<String>>,
    recover_after: Option<Spanned<u32>>,
    channels: Option<Vec<Spanned<String>>>,
    escalate_after: Option<Spanned<String>>,
    escalate_to: Option<Vec<Spanned<String>>>,
    remind_every: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    consecutive_failures: Option<Spanned<u32>>,
    failures: Option<Spanned<u32>>,
    within_runs: Option<Spanned<u32>>,
    within: Option<Spanned<String>>,
    metric: Option<Spanned<String>>,
    above: Option<Spanned<f64>>,
    over: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    health: Option<Spanned<String>>,
    no_run_for: Option<Spanned<String>>,
    burn_rate: Option<Spanned<crate::slo::RawBurnRate>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSilence {
    rule: Option<Spanned<String>>,
    workflow: Option<Spanned<String>>,
    environment: Option<Spanned<String>>,
    until: Spanned<String>,
    reason: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    name: Spanned<String>,
    schedule: Spanned<String>,
    duration: Spanned<String>,
    timezone: Option<Spanned<String>>,
    environments: Option<Vec<Spanned<String>>>,
    workflows: Option<Vec<Spanned<String>>>,
}

/// What rules may refer to.
pub(crate) struct Known<'a, T> {
    pub workflows: &'a [Workflow],
    pub environments: &'a BTreeMap<String, Environment>,
    pub channels: &'a BTreeMap<String, T>,
    pub slos: &'a [crate::slo::Slo],
}

/// Validates the section.
pub(crate) fn validate<T>(raw: &RawAlerts, known: &Known<'_, T>, c: &mut Checker) -> AlertsConfig {
    let mut config = AlertsConfig::default();
    if let Some(d) = raw
        .evaluate_every
        .as_ref()
        .and_then(|v| c.duration(v, "alerts.evaluate_every"))
    {
        if d < Duration::from_millis(100) {
            let v = raw.evaluate_every.as_ref().expect("parsed above");
            c.issue_at(v, "alerts.evaluate_every", "write 100ms or more");
        } else {
            config.evaluate_every = d;
        }
    }
    let defaults = settings(&raw.defaults, known, c, "alerts.defaults", None);
    let names: BTreeSet<&str> = raw.rules.iter().map(|r| r.name.value.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let key = format!("alerts.rules[{i}]");
        let before = c.issue_count();
        let name = c.unique_name(&r.name, &key, "rule", &mut seen);
        let mut workflows = r.workflows.as_ref().map_or_else(Vec::new, |list| {
            list.iter()
                .enumerate()
                .filter_map(|(j, w)| {
                    if known.workflows.iter().any(|k| k.name == w.value) {
                        Some(w.value.clone())
                    } else {
                        c.issue_at(
                            w,
                            &format!("{key}.workflows[{j}]"),
                            format!("unknown workflow `{}`", w.value),
                        );
                        None
                    }
                })
                .collect()
        });
        for (j, tag) in r.tags.iter().enumerate() {
            if !known.workflows.iter().any(|w| w.tags.contains(&tag.value)) {
                c.issue_at(
                    tag,
                    &format!("{key}.tags[{j}]"),
                    format!("unknown tag `{}`: no workflow has it", tag.value),
                );
            }
        }
        let tags: Vec<String> = r.tags.iter().map(|t| t.value.clone()).collect();
        let mut environments = environments(c, known, r.environments.as_ref(), &key);
        for (j, d) in r.depends_on.iter().enumerate() {
            if d.value == name || !names.contains(d.value.as_str()) {
                c.issue_at(
                    d,
                    &format!("{key}.depends_on[{j}]"),
                    format!("`{}` is not another rule of alerts.rules", d.value),
                );
            }
        }
        let own = RawRuleSettings {
            severity: r.severity.clone(),
            recover_after: r.recover_after.clone(),
            channels: r.channels.clone(),
            escalate_after: r.escalate_after.clone(),
            escalate_to: r.escalate_to.clone(),
            remind_every: r.remind_every.clone(),
        };
        let s = settings(&own, known, c, &key, Some(&defaults));
        let condition = condition(&r.when, known.slos, c, &format!("{key}.when"));
        if let Some(Condition::BurnRate { slo, .. }) = &condition
            && let Some(slo) = known.slos.iter().find(|s| &s.name == slo)
        {
            crate::slo::check_burn_rule(
                r.workflows.as_ref(),
                &tags,
                r.environments.as_ref(),
                slo,
                &key,
                c,
            );
            workflows = vec![slo.workflow.clone()];
            if let Some(env) = &slo.environment {
                environments = vec![env.clone()];
            }
        }
        if c.issue_count() != before {
            continue;
        }
        let Some(condition) = condition else { continue };
        config.rules.push(AlertRule {
            name,
            description: r.description.clone(),
            workflows,
            tags,
            environments,
            severity: s.severity.unwrap_or(AlertSeverity::Warning),
            condition,
            recover_after: s.recover_after.unwrap_or(1),
            channels: s.channels.unwrap_or_default(),
            escalate_after: s.escalate_after,
            escalate_to: s.escalate_to.unwrap_or_default(),
            remind_every: s.remind_every,
            depends_on: r.depends_on.iter().map(|d| d.value.clone()).collect(),
        });
    }
    dependency_cycles(raw, c);
    for (i, s) in raw.silences.iter().enumerate() {
        let key = format!("alerts.silences[{i}]");
        let until = match Timestamp::parse(&s.until.value) {
            Ok(t) => Some(t),
            Err(_) => {
                c.issue_at(
                    &s.until,
                    &format!("{key}.until"),
                    format!(
                        "`{}` is not a time: write RFC 3339, e.g. 2026-12-01T08:00:00Z",
                        s.until.value
                    ),
                );
                None
            }
        };
        if s.reason.value.trim().is_empty() {
            c.issue_at(&s.reason, &format!("{key}.reason"), "say why");
        }
        if let Some(rule) = &s.rule
            && !names.contains(rule.value.as_str())
        {
            c.issue_at(
                rule,
                &format!("{key}.rule"),
                format!("unknown rule `{}`", rule.value),
            );
        }
        if let Some(w) = &s.workflow
            && !known.workflows.iter().any(|k| k.name == w.value)
        {
            c.issue_at(
                w,
                &format!("{key}.workflow"),
                format!("unknown workflow `{}`", w.value),
            );
        }
        if let Some(e) = &s.environment
            && !known.environments.contains_key(&e.value)
        {
            c.issue_at(
                e,
                &format!("{key}.environment"),
                format!("unknown environment `{}`", e.value),
            );
        }
        if let Some(until) = until {
            config.silences.push(Silence {
                rule: s.rule.as_ref().map(|v| v.value.clone()),
                workflow: s.workflow.as_ref().map(|v| v.value.clone()),
                environment: s.environment.as_ref().map(|v| v.value.clone()),
                until,
                reason: s.reason.value.trim().to_owned(),
            });
        }
    }
    for (i, m) in raw.maintenance.iter().enumerate() {
        let key = format!("alerts.maintenance[{i}]");
        let tz = match &m.timezone {
            Some(tz) => match chrono_tz::Tz::from_str(&tz.value) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    c.issue_at(
                        tz,
                        &format!("{key}.timezone"),
                        format!("`{}` is not an IANA time zone", tz.value),
                    );
                    None
                }
            },
            None => Some(chrono_tz::UTC),
        };
        let cron = match parse_cron(&m.schedule.value) {
            Ok(cron) => Some(cron),
            Err(message) => {
                c.issue_at(&m.schedule, &format!("{key}.schedule"), message);
                None
            }
        };
        let duration = c.duration(&m.duration, &format!("{key}.duration"));
        let environments = environments(c, known, m.environments.as_ref(), &key);
        let workflows: Vec<String> = m
            .workflows
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(j, w)| {
                if known.workflows.iter().any(|k| k.name == w.value) {
                    Some(w.value.clone())
                } else {
                    c.issue_at(
                        w,
                        &format!("{key}.workflows[{j}]"),
                        format!("unknown workflow `{}`", w.value),
                    );
                    None
                }
            })
            .collect();
        if let (Some(timezone), Some(cron), Some(duration)) = (tz, cron, duration) {
            config.maintenance.push(MaintenanceWindow {
                name: m.name.value.clone(),
                schedule: Schedule {
                    expression: m.schedule.value.clone(),
                    cron,
                    timezone,
                },
                duration,
                environments,
                workflows,
            });
        }
    }
    config
}

fn environments<T>(
    c: &mut Checker,
    known: &Known<'_, T>,
    list: Option<&Vec<Spanned<String>>>,
    key: &str,
) -> Vec<String> {
    list.into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(j, e)| {
            if known.environments.contains_key(&e.value) {
                Some(e.value.clone())
            } else {
                let defined: Vec<&str> = known.environments.keys().map(String::as_str).collect();
                c.issue_at(
                    e,
                    &format!("{key}.environments[{j}]"),
                    format!(
                        "unknown environment `{}` (defined: {})",
                        e.value,
                        defined.join(", ")
                    ),
                );
                None
            }
        })
        .collect()
}

/// Validated settings; `None` where neither the rule nor the defaults set them.
#[derive(Debug, Clone, Default)]
struct Settings {
    severity: Option<AlertSeverity>,
    recover_after: Option<u32>,
    channels: Option<Vec<String>>,
    escalate_after: Option<Duration>,
    escalate_to: Option<Vec<String>>,
    remind_every: Option<Duration>,
}

fn settings<T>(
    raw: &RawRuleSettings,
    known: &Known<'_, T>,
    c: &mut Checker,
    key: &str,
    defaults: Option<&Settings>,
) -> Settings {
    let base = defaults.cloned().unwrap_or_default();
    let severity = match &raw.severity {
        Some(s) => match AlertSeverity::from_str(&s.value) {
            Ok(level) => Some(level),
            Err(_) => {
                c.issue_at(
                    s,
                    &format!("{key}.severity"),
                    format!(
                        "`{}` is not a severity: write INFO, WARNING or CRITICAL",
                        s.value
                    ),
                );
                None
            }
        },
        None => base.severity,
    };
    let recover_after = match &raw.recover_after {
        Some(n) if n.value == 0 || n.value > 1000 => {
            c.issue_at(
                n,
                &format!("{key}.recover_after"),
                format!("{}: write 1 to 1000 passing runs", n.value),
            );
            None
        }
        Some(n) => Some(n.value),
        None => base.recover_after,
    };
    let channels = match &raw.channels {
        Some(list) => Some(channel_names(
            c,
            known.channels,
            list,
            &format!("{key}.channels"),
        )),
        None => base.channels,
    };
    let escalate_to = match &raw.escalate_to {
        Some(list) => Some(channel_names(
            c,
            known.channels,
            list,
            &format!("{key}.escalate_to"),
        )),
        None => base.escalate_to,
    };
    let escalate_after = match &raw.escalate_after {
        Some(v) => c.duration(v, &format!("{key}.escalate_after")),
        None => base.escalate_after,
    };
    let remind_every = match &raw.remind_every {
        Some(v) => c.duration(v, &format!("{key}.remind_every")),
        None => base.remind_every,
    };
    Settings {
        severity,
        recover_after,
        channels,
        escalate_after,
        escalate_to,
        remind_every,
    }
}

fn condition(
    when: &Spanned<RawWhen>,
    slos: &[crate::slo::Slo],
    c: &mut Checker,
    key: &str,
) -> Option<Condition> {
    let w = &when.value;
    let kinds = [
        w.consecutive_failures.is_some(),
        w.failures.is_some(),
        w.metric.is_some(),
        w.health.is_some(),
        w.no_run_for.is_some(),
        w.burn_rate.is_some(),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if kinds != 1 {
        c.issue_at(
            when,
            key,
            "write exactly one of consecutive_failures, failures (with within_runs or within), \
             metric (with above), health, no_run_for or burn_rate",
        );
        return None;
    }
    let positive = |c: &mut Checker, n: &Spanned<u32>, k: &str| {
        if n.value == 0 || n.value > 10_000 {
            c.issue_at(
                n,
                &format!("{key}.{k}"),
                format!("{}: write 1 to 10000", n.value),
            );
            None
        } else {
            Some(n.value)
        }
    };
    if let Some(n) = &w.consecutive_failures {
        return positive(c, n, "consecutive_failures").map(Condition::ConsecutiveFailures);
    }
    if let Some(n) = &w.failures {
        let failures = positive(c, n, "failures")?;
        return match (&w.within_runs, &w.within) {
            (Some(runs), None) => {
                let runs = positive(c, runs, "within_runs")?;
                if runs < failures {
                    c.issue_at(
                        &w.within_runs.clone().expect("matched"),
                        &format!("{key}.within_runs"),
                        format!("{failures} failures cannot happen in {runs} runs"),
                    );
                    return None;
                }
                Some(Condition::FailuresInRuns { failures, runs })
            }
            (None, Some(window)) => c
                .duration(window, &format!("{key}.within"))
                .map(|window| Condition::FailuresInWindow { failures, window }),
            _ => {
                c.issue_at(
                    n,
                    &format!("{key}.failures"),
                    "add within_runs: N (the last N runs) or within: DURATION (e.g. 30m), not both",
                );
                None
            }
        };
    }
    if let Some(metric) = &w.metric {
        let Some(above) = &w.above else {
            c.issue_at(
                metric,
                &format!("{key}.above"),
                "missing: the limit, e.g. above: 2000",
            );
            return None;
        };
        if !above.value.is_finite() {
            c.issue_at(above, &format!("{key}.above"), "must be a number");
            return None;
        }
        let window = match &w.window {
            Some(v) => c.duration(v, &format!("{key}.window"))?,
            None => Duration::from_secs(3600),
        };
        let over = match w.over.as_ref().map(|o| o.value.to_ascii_lowercase()) {
            None => Aggregate::Last,
            Some(o) if o == "last" => Aggregate::Last,
            Some(o) if o == "p95" => Aggregate::P95(window),
            Some(o) => {
                c.issue_at(
                    w.over.as_ref().expect("matched"),
                    &format!("{key}.over"),
                    format!("`{o}`: write last (the last run) or p95 (over window)"),
                );
                return None;
            }
        };
        return Some(Condition::Threshold {
            metric: metric.value.trim().to_owned(),
            above: above.value,
            over,
        });
    }
    if let Some(b) = &w.burn_rate {
        return crate::slo::validate_burn_rate(b, slos, c, &format!("{key}.burn_rate")).map(
            |(slo, burn)| Condition::BurnRate {
                slo: slo.name.clone(),
                burn,
            },
        );
    }
    if let Some(h) = &w.health {
        return match HealthStatus::from_str(&h.value) {
            Ok(HealthStatus::Healthy) | Err(_) => {
                c.issue_at(
                    h,
                    &format!("{key}.health"),
                    format!("`{}`: write DEGRADED or UNHEALTHY", h.value),
                );
                None
            }
            Ok(status) => Some(Condition::Health(status)),
        };
    }
    let v = w.no_run_for.as_ref().expect("one kind");
    c.duration(v, &format!("{key}.no_run_for"))
        .map(Condition::Absent)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

/// Refuses `depends_on` that leads back to its own rule: alerts that silence each other
/// while both are open would never be notified. Each dependency that closes a cycle is
/// named with the cycle.
fn dependency_cycles(raw: &RawAlerts, c: &mut Checker) {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &raw.rules {
        graph
            .entry(r.name.value.as_str())
            .or_default()
            .extend(r.depends_on.iter().map(|d| d.value.as_str()));
    }
    /// A path of dependencies from `from` to `to`, both included.
    fn path<'a>(
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        from: &'a str,
        to: &str,
        seen: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if from == to {
            return Some(vec![from]);
        }
        if !seen.insert(from) {
            return None;
        }
        for next in graph.get(from).into_iter().flatten() {
            if let Some(mut rest) = path(graph, next, to, seen) {
                rest.insert(0, from);
                return Some(rest);
            }
        }
        None
    }
    for (i, r) in raw.rules.iter().enumerate() {
        let name = r.name.value.as_str();
        for (j, d) in r.depends_on.iter().enumerate() {
            if d.value == name {
                continue; // named above as not another rule
            }
            if let Some(back) = path(&graph, &d.value, name, &mut BTreeSet::new()) {
                let cycle: Vec<&str> = std::iter::once(name).chain(back).collect();
                c.issue_at(
                    d,
                    &format!("alerts.rules[{i}].depends_on[{j}]"),
                    format!(
                        "depends_on makes a cycle ({}): alerts that silence each other would \
                         never be notified",
                        cycle.join(" → ")
                    ),
                );
            }
        }
    }
}
