//! Validated alert rules, silences and maintenance windows: what the evaluator applies.

use std::time::Duration;

use wfmon_model::{AlertSeverity, HealthStatus, Timestamp};

use crate::workflow::{Schedule, Workflow};

/// The `alerts:` section.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Rules, in file order.
    pub rules: Vec<AlertRule>,
    /// Silences written in the configuration.
    pub silences: Vec<Silence>,
    /// Recurring maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
    /// How often absence, escalation, reminders and silences are checked.
    pub evaluate_every: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            rules: Vec::new(),
            silences: Vec::new(),
            maintenance: Vec::new(),
            evaluate_every: Duration::from_secs(30),
        }
    }
}

impl AlertsConfig {
    /// A rule by name.
    pub fn rule(&self, name: &str) -> Option<&AlertRule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

/// One rule: when it fires, for which workflows, how loud, and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Unique name (`alerts.rule_id`).
    pub name: String,
    /// What it means, for the people it notifies.
    pub description: Option<String>,
    /// Workflows it watches (empty: every workflow).
    pub workflows: Vec<String>,
    /// Only workflows with one of these tags (empty: any).
    pub tags: Vec<String>,
    /// Only these environments (empty: every environment).
    pub environments: Vec<String>,
    /// Severity of its alerts.
    pub severity: AlertSeverity,
    /// When it fires.
    pub condition: Condition,
    /// Passing runs in a row that resolve its alert (consecutive-failure rules).
    pub recover_after: u32,
    /// Channels its notifications go to (empty: the routes of its severity).
    pub channels: Vec<String>,
    /// Escalate an alert nobody acknowledged within this time.
    pub escalate_after: Option<Duration>,
    /// Channels an escalation goes to (empty: the rule's channels).
    pub escalate_to: Vec<String>,
    /// Remind while the alert stays open and unacknowledged.
    pub remind_every: Option<Duration>,
    /// Rules whose open alert (same environment) silences this rule's new alerts.
    pub depends_on: Vec<String>,
}

impl AlertRule {
    /// Whether the rule watches `workflow` in `environment`.
    pub fn applies_to(&self, workflow: &Workflow, environment: &str) -> bool {
        (self.workflows.is_empty() || self.workflows.contains(&workflow.name))
            && (self.tags.is_empty() || self.tags.iter().any(|t| workflow.tags.contains(t)))
            && (self.environments.is_empty() || self.environments.iter().any(|e| e == environment))
            && workflow.environments.iter().any(|e| e == environment)
    }
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The last N runs failed.
    ConsecutiveFailures(u32),
    /// At least `failures` of the last `runs` runs failed.
    FailuresInRuns {
        /// Failures needed.
        failures: u32,
        /// Runs looked at.
        runs: u32,
    },
    /// At least `failures` runs failed within `window`.
    FailuresInWindow {
        /// Failures needed.
        failures: u32,
        /// How far back.
        window: Duration,
    },
    /// A duration or metric above a limit.
    Threshold {
        /// `duration_ms` (the run's duration) or a recorded metric's name.
        metric: String,
        /// The limit.
        above: f64,
        /// Last run, or the 95th percentile over a window.
        over: Aggregate,
    },
    /// A health probe of the last run at least this bad.
    Health(HealthStatus),
    /// No run started within this interval.
    Absent(Duration),
    /// The error budget of an objective (`slos:`) burns faster than the condition's factor
    /// over both its long and its short window.
    BurnRate {
        /// The objective's name.
        slo: String,
        /// Windows and factor.
        burn: crate::slo::BurnCondition,
    },
}

impl Condition {
    /// Whether it is checked on the timer rather than on each run.
    pub fn is_timed(&self) -> bool {
        matches!(self, Condition::Absent(_))
    }
}

/// How a threshold reads its values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// The last run's value.
    Last,
    /// The 95th percentile of the values within the window.
    P95(Duration),
}

/// A silence from the configuration: alerts it matches are recorded, not notified.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Rule matched (None: any).
    pub rule: Option<String>,
    /// Workflow matched (None: any).
    pub workflow: Option<String>,
    /// Environment matched (None: any).
    pub environment: Option<String>,
    /// When it ends.
    pub until: Timestamp,
    /// Why.
    pub reason: String,
}

/// A recurring window (e.g. weekly deploys) during which notifications are suppressed.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    /// Name, shown as the reason.
    pub name: String,
    /// When each window starts.
    pub schedule: Schedule,
    /// How long each lasts.
    pub duration: Duration,
    /// Environments covered (empty: all).
    pub environments: Vec<String>,
    /// Workflows covered (empty: all).
    pub workflows: Vec<String>,
}

impl MaintenanceWindow {
    /// Whether its windows cover this workflow and environment (at some time).
    pub fn applies_to(&self, workflow: &str, environment: &str) -> bool {
        (self.environments.is_empty() || self.environments.iter().any(|e| e == environment))
            && (self.workflows.is_empty() || self.workflows.iter().any(|w| w == workflow))
    }

    /// Whether a window is open at `now` for this workflow and environment.
    pub fn covers(&self, workflow: &str, environment: &str, now: Timestamp) -> bool {
        if !self.applies_to(workflow, environment) {
            return false;
        }
        let Ok(length) = chrono::TimeDelta::from_std(self.duration) else {
            return false;
        };
        let now = now.as_datetime();
        // A window is open when one started in (now - duration, now].
        self.schedule
            .next_after(now - length)
            .is_some_and(|start| start <= now)
    }
}

impl Silence {
    /// Whether it silences this alert at `now`.
    pub fn covers(&self, rule: &str, workflow: &str, environment: &str, now: Timestamp) -> bool {
        now < self.until
            && self.rule.as_deref().is_none_or(|r| r == rule)
            && self.workflow.as_deref().is_none_or(|w| w == workflow)
            && self.environment.as_deref().is_none_or(|e| e == environment)
    }
}
