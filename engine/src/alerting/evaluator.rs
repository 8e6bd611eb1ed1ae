//! The evaluator: applies the rules to each recorded execution (reading the workflow's
//! history from the store) and, on a timer, checks absences, escalations, reminders and
//! silences that expired. Alert state is only in the database, so it survives restarts and
//! is shared by instances; each change is a compare-and-set in the store.
//!
//! `depends_on`: an alert is SILENCED while an alert of a rule it depends on is open in its
//! environment, whichever opened first: a rule is applied after the rules it depends on
//! to the runs evaluated together, an alert that opens silences the open alerts that
//! depend on it, and the timer silences any that a change elsewhere left out. Such a
//! silence ends when the alert fires again with none of its dependencies open: it then
//! gets back its status and, if nobody was told of it yet, its first notification.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;
use wfmon_model::{
    Alert, AlertStatus, ExecutionStatus, HealthStatus, NotificationLog, NotificationStatus,
    NotificationType, Timestamp, WorkflowExecution, json as to_json, new_id,
};
use wfmon_store::{AlertChange, ExecutionDetail, Store, StoreError};

use super::notices::{ChannelDirectory, channels_for, notice, rows};
use super::rules::{Aggregate, AlertRule, AlertsConfig, Condition};
use crate::config::Config;
use crate::events::{Event, EventBus};
use crate::telemetry::NotificationOutcome;
use crate::workflow::Workflow;

/// What a rule says about a workflow in an environment now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition holds: open or re-trigger the alert, with why.
    Fire(String),
    /// The condition is over: resolve the open alert.
    Clear,
    /// Not enough to say either (e.g. between firing and recovery thresholds).
    Hold,
}

/// Who resolves alerts that recover by themselves.
pub const AUTO_RESOLVER: &str = "wfmon (recovered)";

/// Who resolves an alert whose rule or workflow left the configuration.
pub const REMOVED_RESOLVER: &str = "wfmon (rule or workflow removed from the configuration)";

/// Applies the rules of a configuration.
pub struct AlertEvaluator {
    store: Store,
    config: Arc<Config>,
    directory: ChannelDirectory,
    started_at: Timestamp,
    nudge: Arc<Notify>,
    events: Option<EventBus>,
}

impl AlertEvaluator {
    /// An evaluator of `config`'s rules on `store`; `nudge` is notified when notifications
    /// are queued.
    pub fn new(store: Store, config: Arc<Config>, nudge: Arc<Notify>) -> AlertEvaluator {
        let directory = config
            .notifications
            .channels
            .iter()
            .map(|(name, channel)| {
                let built =
                    crate::notify::build_channel(channel, config.notifications.delivery.timeout);
                (name.clone(), (built.kind(), built.describe()))
            })
            .collect();
        AlertEvaluator {
            store,
            config,
            directory,
            started_at: Timestamp::now(),
            nudge,
            events: None,
        }
    }

    /// Announces every alert change on `events` (`alert.changed`).
    pub fn with_events(mut self, events: EventBus) -> AlertEvaluator {
        self.events = Some(events);
        self
    }

    /// Counts the SUPPRESSED rows among `written` (rows the store has just committed) in the
    /// bus's telemetry, when a bus is attached.
    pub(crate) fn count_suppressed(&self, written: &[NotificationLog]) {
        let Some(events) = &self.events else {
            return;
        };
        for row in written {
            if row.status == NotificationStatus::Suppressed {
                events.telemetry().notification(
                    row.channel_name.as_deref().unwrap_or("?"),
                    NotificationOutcome::Suppressed,
                );
            }
        }
    }

    /// Publishes `alert.changed` when a bus is attached and the change happened.
    pub(crate) fn announce(&self, change: &'static str, alert: Option<&Alert>) {
        if let (Some(events), Some(alert)) = (&self.events, alert) {
            events.publish(Event::AlertChanged {
                change,
                alert: Box::new(alert.clone()),
            });
        }
    }

    /// The store the evaluator works on.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Applies every rule that watches the execution's workflow and environment.
    pub async fn on_execution(&self, execution: &WorkflowExecution) -> Result<(), StoreError> {
        self.on_executions(std::slice::from_ref(execution)).await
    }

    /// Applies the rules to executions recorded together: every rule that watches an
    /// execution's workflow and environment, a rule after the rules it depends on, so that
    /// an alert whose dependency opens in the same evaluation opens SILENCED whatever the
    /// order of the executions.
    pub async fn on_executions(&self, executions: &[WorkflowExecution]) -> Result<(), StoreError> {
        let mut work: Vec<(usize, usize, &AlertRule, &Workflow)> = Vec::new();
        for (i, execution) in executions.iter().enumerate() {
            if matches!(
                execution.status,
                ExecutionStatus::Running | ExecutionStatus::Skipped
            ) || is_retried(execution)
            {
                continue;
            }
            let Some(workflow) = self.config.workflow(&execution.workflow_name) else {
                continue;
            };
            for rule in &self.config.alerts.rules {
                if rule.applies_to(workflow, &execution.environment) {
                    work.push((self.dependency_depth(&rule.name), i, rule, workflow));
                }
            }
        }
        // Stable: rules of one depth keep the order of the executions, then of the file.
        work.sort_by_key(|(depth, i, _, _)| (*depth, *i));
        let mut details: BTreeMap<usize, Option<ExecutionDetail>> = BTreeMap::new();
        for (_, i, _, _) in &work {
            if !details.contains_key(i) {
                let detail = self.store.execution_detail(&executions[*i].run_id).await?;
                details.insert(*i, detail);
            }
        }
        for (_, i, rule, workflow) in work {
            let execution = &executions[i];
            let detail = details.get(&i).and_then(Option::as_ref);
            let env = execution.environment.as_str();
            let verdict = if execution.status == ExecutionStatus::Aborted {
                // An interrupted run proves nothing, except that the workflow runs.
                if rule.condition.is_timed() {
                    Verdict::Clear
                } else {
                    Verdict::Hold
                }
            } else {
                self.judge(rule, workflow, env, execution, detail).await?
            };
            self.apply(rule, &workflow.name, env, verdict, detail)
                .await?;
        }
        Ok(())
    }

    /// How many rules deep `rule` depends: 0 for a rule that depends on none, else one
    /// more than the deepest rule it depends on (the configuration refuses cycles; one
    /// would count as no further depth).
    fn dependency_depth(&self, rule: &str) -> usize {
        fn depth<'a>(config: &'a AlertsConfig, rule: &'a str, path: &mut Vec<&'a str>) -> usize {
            let Some(r) = config.rule(rule) else {
                return 0;
            };
            if path.contains(&rule) {
                return 0;
            }
            path.push(rule);
            let deepest = r
                .depends_on
                .iter()
                .map(|d| 1 + depth(config, d, path))
                .max()
                .unwrap_or(0);
            path.pop();
            deepest
        }
        depth(&self.config.alerts, rule, &mut Vec::new())
    }

    /// What `rule` says after this execution.
    async fn judge(
        &self,
        rule: &AlertRule,
        workflow: &Workflow,
        env: &str,
        execution: &WorkflowExecution,
        detail: Option<&ExecutionDetail>,
    ) -> Result<Verdict, StoreError> {
        let failed = |e: &WorkflowExecution| !e.status.is_success();
        let now = Timestamp::now();
        Ok(match &rule.condition {
            Condition::ConsecutiveFailures(n) => {
                let look = (*n).max(rule.recover_after);
                let runs = self.store.recent_runs(&workflow.name, env, look).await?;
                let n = *n as usize;
                let recover = rule.recover_after as usize;
                if runs.len() >= n && runs[..n].iter().all(failed) {
                    Verdict::Fire(format!("the last {n} run(s) failed in a row"))
                } else if runs.len() >= recover && runs[..recover].iter().all(|e| !failed(e)) {
                    Verdict::Clear
                } else {
                    Verdict::Hold
                }
            }
            Condition::FailuresInRuns { failures, runs } => {
                let recent = self.store.recent_runs(&workflow.name, env, *runs).await?;
                let count = recent.iter().filter(|e| failed(e)).count();
                if count >= *failures as usize {
                    Verdict::Fire(format!("{count} of the last {} runs failed", recent.len()))
                } else {
                    Verdict::Clear
                }
            }
            Condition::FailuresInWindow { failures, window } => {
                let since = now.minus(delta(*window));
                let recent = self.store.runs_since(&workflow.name, env, since).await?;
                let count = recent.iter().filter(|e| failed(e)).count();
                if count >= *failures as usize {
                    Verdict::Fire(format!(
                        "{count} runs failed in the last {}",
                        human(*window)
                    ))
                } else {
                    Verdict::Clear
                }
            }
            Condition::Threshold {
                metric,
                above,
                over,
            } => {
                let value = match over {
                    Aggregate::Last if metric == "duration_ms" => {
                        execution.duration_ms.map(f64::from)
                    }
                    Aggregate::Last => detail.and_then(|d| {
                        d.metrics
                            .iter()
                            .find(|m| &m.metric_name == metric)
                            .map(|m| m.metric_value)
                    }),
                    Aggregate::P95(window) => {
                        let since = now.minus(delta(*window));
                        let values = if metric == "duration_ms" {
                            self.store
                                .runs_since(&workflow.name, env, since)
                                .await?
                                .iter()
                                .filter_map(|e| e.duration_ms.map(f64::from))
                                .collect()
                        } else {
                            self.store
                                .metric_values_since(&workflow.name, env, metric, since)
                                .await?
                        };
                        p95(values)
                    }
                };
                match value {
                    None => Verdict::Hold,
                    Some(v) if v > *above => Verdict::Fire(match over {
                        Aggregate::Last => format!("{metric} was {v:.0}, above {above}"),
                        Aggregate::P95(w) => format!(
                            "p95 of {metric} over the last {} is {v:.0}, above {above}",
                            human(*w)
                        ),
                    }),
                    Some(_) => Verdict::Clear,
                }
            }
            Condition::Health(level) => {
                let worst = detail
                    .into_iter()
                    .flat_map(|d| &d.health_checks)
                    .max_by_key(|h| severity_of(h.status));
                match worst {
                    None => Verdict::Hold,
                    Some(h) if severity_of(h.status) >= severity_of(*level) => {
                        Verdict::Fire(format!("health check {} is {}", h.check_name, h.status))
                    }
                    Some(_) => Verdict::Clear,
                }
            }
            Condition::Absent(_) => Verdict::Clear,
            Condition::BurnRate { slo, burn } => self.burn_verdict(slo, burn, env, now).await?,
        })
    }

    /// Checks burn rates that stopped, absences, escalations, reminders and silences that
    /// ended.
    pub async fn tick(&self, now: Timestamp) -> Result<(), StoreError> {
        self.clear_burn_rates(now).await?;
        for rule in &self.config.alerts.rules {
            let Condition::Absent(interval) = rule.condition else {
                continue;
            };
            for workflow in &self.config.workflows {
                for env in &workflow.environments {
                    if !rule.applies_to(workflow, env) {
                        continue;
                    }
                    let last = self.store.last_run_started(&workflow.name, env).await?;
                    // Absence is measured from this process's start at the earliest: runs
                    // missed while wfmon itself was down are the scheduler's catch-up.
                    let reference = last.map_or(self.started_at, |l| l.max(self.started_at));
                    let verdict = if now.unix_millis() - reference.unix_millis()
                        > interval.as_millis() as i64
                    {
                        Verdict::Fire(match last {
                            Some(last) => {
                                format!("no run for {} (last run started {last})", human(interval))
                            }
                            None => format!("no run for {}", human(interval)),
                        })
                    } else {
                        Verdict::Clear
                    };
                    self.apply(rule, &workflow.name, env, verdict, None).await?;
                }
            }
        }
        let mut open = Vec::new();
        for alert in self.store.open_alerts().await? {
            let known = self
                .config
                .alerts
                .rule(&alert.rule_id)
                .is_some_and(|_| self.config.workflow(&alert.workflow_name).is_some());
            if known {
                open.push(alert);
            } else {
                // Nothing would ever clear it: close it, saying why, instead of leaving it
                // open (and reminding) forever.
                self.resolve_by_hand(&alert.alert_id, REMOVED_RESOLVER)
                    .await?;
            }
        }
        for alert in &open {
            if let Some(rule) = self.config.alerts.rule(&alert.rule_id) {
                self.follow_up(rule, alert, &open, now).await?;
            }
        }
        Ok(())
    }

    /// The end of a silence set by hand, a dependency's silence the alert lacks,
    /// escalation, reminders, and a first notification after a suppression ended. `open` is
    /// every open alert, as read at the start of this evaluation.
    async fn follow_up(
        &self,
        rule: &AlertRule,
        alert: &Alert,
        open: &[Alert],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut alert = alert.clone();
        if alert.status == AlertStatus::Silenced {
            // A dependency's silence ends when the alert fires again (`apply`); one set by
            // hand, at its time.
            if silenced_until(&alert).is_none_or(|until| until > now) {
                return Ok(());
            }
            let Some(back) = self.store.unsilence_alert(&alert.alert_id, now).await? else {
                return Ok(());
            };
            self.announce("unsilenced", Some(&back));
            alert = back;
        } else if matches!(alert.status, AlertStatus::Active | AlertStatus::Escalated)
            && alert.acknowledged_at.is_some()
        {
            // Acknowledged, yet shown as ACTIVE or ESCALATED (as an earlier version left an
            // acknowledged alert whose silence ended): it is acknowledged.
            let back = self.store.unsilence_alert(&alert.alert_id, now).await?;
            self.announce("acknowledged", back.as_ref());
            return Ok(());
        }
        if !matches!(alert.status, AlertStatus::Active | AlertStatus::Escalated) {
            return Ok(());
        }
        if let Some(cause) = dependency_in(open, rule, &alert.environment) {
            self.silence_for_dependency(&alert, cause, now).await?;
            return Ok(());
        }
        let suppressed = self.suppression(rule, &alert.workflow_name, &alert.environment, now);
        if alert.status == AlertStatus::Active
            && let Some(after) = rule.escalate_after
            && alert.triggered_at.plus(delta(after)) <= now
        {
            let notice = notice(
                NotificationType::Escalation,
                rule,
                &alert,
                None,
                &self.config,
            );
            let channels = channels_for(rule, NotificationType::Escalation, &self.config);
            let queued = rows(
                &notice,
                &channels,
                &self.directory,
                None,
                suppressed.as_deref(),
            );
            let changed = self
                .store
                .escalate_alert(&alert.alert_id, now, &queued)
                .await?;
            if changed.is_some() {
                self.count_suppressed(&queued);
            }
            self.announce("escalated", changed.as_ref());
            self.nudge.notify_one();
            return Ok(());
        }
        if suppressed.is_some() {
            return Ok(());
        }
        match alert.last_notified_at {
            None => self.first_notification(rule, &alert, None, now).await?,
            Some(last) => {
                if let Some(every) = rule.remind_every
                    && last.plus(delta(every)) <= now
                {
                    let notice =
                        notice(NotificationType::Reminder, rule, &alert, None, &self.config);
                    let channels = channels_for(rule, NotificationType::Reminder, &self.config);
                    let queued = rows(&notice, &channels, &self.directory, None, None);
                    if !queued.is_empty()
                        && self
                            .store
                            .notify_alert(&alert.alert_id, Some(last), now, &queued)
                            .await?
                    {
                        self.nudge.notify_one();
                    }
                }
            }
        }
        Ok(())
    }

    /// Silences an open alert because `cause`, an alert it depends on, is open; the
    /// notifications of it no sender holds yet are suppressed. Returns the alert as stored
    /// now, or None when it was in no state to be silenced so.
    async fn silence_for_dependency(
        &self,
        alert: &Alert,
        cause: &Alert,
        now: Timestamp,
    ) -> Result<Option<Alert>, StoreError> {
        let why = dependency_reason(cause);
        let Some((silenced, withdrawn)) = self
            .store
            .silence_alert_for_dependency(&alert.alert_id, &why, now)
            .await?
        else {
            return Ok(None);
        };
        self.count_suppressed(&withdrawn);
        self.announce("silenced", Some(&silenced));
        tracing::info!(
            rule = %silenced.rule_id,
            "alert {} silenced: {} in {} {why}",
            silenced.alert_id,
            silenced.workflow_name,
            silenced.environment
        );
        Ok(Some(silenced))
    }

    /// Silences the open alerts of `env` whose rule depends on `rule`, now that `cause`,
    /// an alert of `rule`, opened.
    async fn silence_dependents(
        &self,
        rule: &AlertRule,
        env: &str,
        cause: &Alert,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let depends = |name: &str| {
            self.config
                .alerts
                .rule(name)
                .is_some_and(|r| r.depends_on.contains(&rule.name))
        };
        if !self.config.alerts.rules.iter().any(|r| depends(&r.name)) {
            return Ok(());
        }
        for alert in self.store.open_alerts().await? {
            if alert.environment == env
                && matches!(alert.status, AlertStatus::Active | AlertStatus::Escalated)
                && alert.acknowledged_at.is_none()
                && depends(&alert.rule_id)
            {
                self.silence_for_dependency(&alert, cause, now).await?;
            }
        }
        Ok(())
    }

    /// Queues the first notification of an alert (once: a compare-and-set on
    /// `last_notified_at`).
    async fn first_notification(
        &self,
        rule: &AlertRule,
        alert: &Alert,
        detail: Option<&ExecutionDetail>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let notice = notice(NotificationType::Alert, rule, alert, detail, &self.config);
        let channels = channels_for(rule, NotificationType::Alert, &self.config);
        let run = detail.map(|d| d.execution.run_id.as_str());
        let queued = rows(&notice, &channels, &self.directory, run, None);
        if !queued.is_empty()
            && self
                .store
                .notify_alert(&alert.alert_id, None, now, &queued)
                .await?
        {
            self.nudge.notify_one();
        }
        Ok(())
    }

    /// Turns a verdict into alert state and notifications.
    async fn apply(
        &self,
        rule: &AlertRule,
        workflow: &str,
        env: &str,
        verdict: Verdict,
        detail: Option<&ExecutionDetail>,
    ) -> Result<(), StoreError> {
        let fingerprint = fingerprint(&rule.name, workflow, env);
        let now = Timestamp::now();
        match verdict {
            Verdict::Hold => Ok(()),
            Verdict::Clear => {
                let Some(alert) = self.store.open_alert(&fingerprint).await? else {
                    return Ok(());
                };
                let queued = self.recovery(rule, &alert, detail, None, now).await?;
                let resolved = self
                    .store
                    .resolve_alert(&alert.alert_id, AUTO_RESOLVER, now, &queued)
                    .await?;
                if resolved.is_some() {
                    self.count_suppressed(&queued);
                }
                self.announce("resolved", resolved.as_ref());
                if resolved.is_some() {
                    tracing::info!(
                        rule = %rule.name,
                        "alert {} resolved: {workflow} in {env} recovered",
                        alert.alert_id
                    );
                    self.nudge.notify_one();
                }
                Ok(())
            }
            Verdict::Fire(reason) => {
                let cause = if rule.depends_on.is_empty() {
                    None
                } else {
                    let open = self.store.open_alerts().await?;
                    dependency_in(&open, rule, env).cloned()
                };
                let dependency = cause.as_ref().map(dependency_reason);
                let mut metadata = serde_json::Map::new();
                if let Some(d) = detail {
                    metadata.insert("runId".into(), d.execution.run_id.clone().into());
                }
                if let Some(why) = &dependency {
                    metadata.insert("silencedReason".into(), why.clone().into());
                }
                let candidate = Alert {
                    id: new_id("alr"),
                    alert_id: new_id("alert"),
                    rule_id: rule.name.clone(),
                    workflow_name: workflow.to_owned(),
                    environment: env.to_owned(),
                    severity: rule.severity,
                    status: if dependency.is_some() {
                        AlertStatus::Silenced
                    } else {
                        AlertStatus::Active
                    },
                    fingerprint,
                    message: reason,
                    triggered_at: now,
                    last_triggered_at: now,
                    occurrences: 1,
                    acknowledged_at: None,
                    acknowledged_by: None,
                    resolved_at: None,
                    resolved_by: None,
                    escalated_at: None,
                    last_notified_at: None,
                    metadata: Some(to_json(serde_json::Value::Object(metadata))),
                    created_at: now,
                    updated_at: now,
                };
                let change = self.store.trigger_alert(&candidate).await?;
                let opened = matches!(change, AlertChange::Opened(_));
                let mut alert = change.alert().clone();
                if opened {
                    self.announce("opened", Some(&alert));
                    tracing::warn!(
                        rule = %rule.name,
                        severity = %alert.severity,
                        "alert {} opened: {workflow} in {env}: {}",
                        alert.alert_id,
                        alert.message
                    );
                    self.silence_dependents(rule, env, &alert, now).await?;
                } else if let Some(cause) = &cause {
                    // Its dependency opened after it.
                    if let Some(silenced) = self.silence_for_dependency(&alert, cause, now).await? {
                        alert = silenced;
                    }
                } else if alert.status == AlertStatus::Silenced
                    && silenced_until(&alert).is_none_or(|until| until <= now)
                {
                    // It fires again with no dependency open: its dependency's silence (or
                    // one set by hand that is over) ends.
                    if let Some(back) = self.store.unsilence_alert(&alert.alert_id, now).await? {
                        self.announce("unsilenced", Some(&back));
                        alert = back;
                    }
                }
                let suppressed = dependency.or_else(|| self.suppression(rule, workflow, env, now));
                match suppressed {
                    // Recorded, not sent: the log says why.
                    Some(why) if opened => {
                        let notice =
                            notice(NotificationType::Alert, rule, &alert, detail, &self.config);
                        let channels = channels_for(rule, NotificationType::Alert, &self.config);
                        let run = detail.map(|d| d.execution.run_id.as_str());
                        let queued = rows(&notice, &channels, &self.directory, run, Some(&why));
                        self.store.enqueue_notifications(&queued).await?;
                        self.count_suppressed(&queued);
                    }
                    Some(_) => {}
                    // A re-trigger notifies only an alert nobody was told about yet (its
                    // first trigger fell in a silence that has ended): no spam.
                    None if matches!(
                        alert.status,
                        AlertStatus::Active | AlertStatus::Escalated
                    ) && alert.last_notified_at.is_none() =>
                    {
                        self.first_notification(rule, &alert, detail, now).await?;
                    }
                    None => {}
                }
                Ok(())
            }
        }
    }

    /// The recovery notifications of an alert that is being resolved (by `by`, when by
    /// hand): one for every channel that was sent one of its notifications, the
    /// escalation's included; none when nobody was told it fired. A silence set by hand,
    /// a silence of the configuration or a maintenance window has them logged SUPPRESSED
    /// with the reason; a dependency's silence does not hold them back.
    async fn recovery(
        &self,
        rule: &AlertRule,
        alert: &Alert,
        detail: Option<&ExecutionDetail>,
        by: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<NotificationLog>, StoreError> {
        let mut channels = self.store.alert_recipients(&alert.alert_id).await?;
        if channels.is_empty() {
            if alert.last_notified_at.is_none() {
                return Ok(Vec::new());
            }
            // Told, but its notifications were pruned: whom its rule sends to.
            channels = channels_for(rule, NotificationType::Alert, &self.config);
            if alert.escalated_at.is_some() {
                for c in channels_for(rule, NotificationType::Escalation, &self.config) {
                    if !channels.contains(&c) {
                        channels.push(c);
                    }
                }
            }
        }
        let mut resolved = Alert {
            status: AlertStatus::Resolved,
            ..alert.clone()
        };
        if let Some(by) = by {
            resolved.message = format!("{} (resolved by {by})", alert.message);
        }
        let notice = notice(
            NotificationType::Recovery,
            rule,
            &resolved,
            detail,
            &self.config,
        );
        let suppressed = match silenced_until(alert) {
            Some(until) if alert.status == AlertStatus::Silenced && until > now => {
                Some(silence_note_of(alert, until))
            }
            _ => self.suppression(rule, &alert.workflow_name, &alert.environment, now),
        };
        let run = detail.map(|d| d.execution.run_id.as_str());
        Ok(rows(
            &notice,
            &channels,
            &self.directory,
            run,
            suppressed.as_deref(),
        ))
    }

    /// Resolves an open alert by hand (`wfmon alerts resolve`, the API), queuing the
    /// recovery notifications of its rule when people were told it fired. None when the
    /// alert is not open.
    pub async fn resolve_by_hand(
        &self,
        alert_id: &str,
        by: &str,
    ) -> Result<Option<Alert>, StoreError> {
        let Some(alert) = self.store.get::<Alert>(alert_id).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let queued = match self.config.alerts.rule(&alert.rule_id) {
            Some(rule) if alert.status.is_open() => {
                self.recovery(rule, &alert, None, Some(by), now).await?
            }
            _ => Vec::new(),
        };
        let resolved = self.store.resolve_alert(alert_id, by, now, &queued).await?;
        if resolved.is_some() {
            self.count_suppressed(&queued);
            self.announce("resolved", resolved.as_ref());
            self.nudge.notify_one();
        }
        Ok(resolved)
    }

    /// Why notifications of this alert are suppressed now, if they are: a silence or a
    /// maintenance window of the configuration.
    fn suppression(
        &self,
        rule: &AlertRule,
        workflow: &str,
        env: &str,
        now: Timestamp,
    ) -> Option<String> {
        let alerts = &self.config.alerts;
        if let Some(s) = alerts
            .silences
            .iter()
            .find(|s| s.covers(&rule.name, workflow, env, now))
        {
            return Some(format!("silenced until {}: {}", s.until, s.reason));
        }
        alerts
            .maintenance
            .iter()
            .find(|m| m.covers(workflow, env, now))
            .map(|m| format!("maintenance window `{}`", m.name))
    }
}

/// Whether another attempt of the same run follows this one: the run's verdict is its last
/// attempt's.
fn is_retried(execution: &WorkflowExecution) -> bool {
    execution
        .metadata
        .as_ref()
        .and_then(|m| m.0.get("retried"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// The identity of an alert: rule, workflow and environment.
pub fn fingerprint(rule: &str, workflow: &str, env: &str) -> String {
    format!("{rule}/{workflow}/{env}")
}

/// An alert among `open` of a rule `rule` depends on, in environment `env`.
fn dependency_in<'a>(open: &'a [Alert], rule: &AlertRule, env: &str) -> Option<&'a Alert> {
    open.iter()
        .find(|a| a.environment == env && rule.depends_on.contains(&a.rule_id))
}

/// Why an alert is silenced while `cause`, an alert it depends on, is open.
fn dependency_reason(cause: &Alert) -> String {
    format!(
        "depends on rule {}, whose alert {} ({} in {}) is open",
        cause.rule_id, cause.alert_id, cause.workflow_name, cause.environment
    )
}

/// When a silence set by hand ends, if one holds the alert.
fn silenced_until(alert: &Alert) -> Option<Timestamp> {
    alert
        .metadata
        .as_ref()
        .and_then(|m| m.0.get("silencedUntil"))
        .and_then(|v| v.as_str())
        .and_then(|t| Timestamp::parse(t).ok())
}

/// The reason of the silence set by hand, until `until`, that holds the alert.
fn silence_note_of(alert: &Alert, until: Timestamp) -> String {
    let text = |key: &str| {
        alert
            .metadata
            .as_ref()
            .and_then(|m| m.0.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    silence_note(&text("silencedBy"), until, &text("silenceReason"))
}

/// The reason logged with the notifications a silence set by hand suppresses.
pub(crate) fn silence_note(by: &str, until: Timestamp, reason: &str) -> String {
    format!("silenced by {by} until {until}: {reason}")
}

fn severity_of(status: HealthStatus) -> u8 {
    match status {
        HealthStatus::Healthy => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Unhealthy => 2,
    }
}

fn delta(d: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else if d.subsec_millis() == 0 {
        format!("{s}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The 95th percentile (nearest rank).
pub fn p95(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64) * 0.95).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

#[path = "burn.rs"]
mod burn;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95(vec![]), None);
        assert_eq!(p95(vec![5.0]), Some(5.0));
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(values), Some(95.0));
        assert_eq!(p95(vec![1.0, 2.0, 3.0]), Some(3.0));
    }
}
