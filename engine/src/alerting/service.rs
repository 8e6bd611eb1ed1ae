//! The daemon's alerting: one task evaluates the rules on every recorded execution (from
//! the event bus; the executions announced by the time it starts are evaluated together)
//! and on a timer; another delivers the notification outbox. Both work from
//! the database, so neither ever holds up the runner, and both pick up where they were
//! after a restart. The reporter (`reports::Reporter`) runs beside them when the
//! configuration has `reports:`: its notifications go through the same outbox.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use wfmon_model::Timestamp;
use wfmon_store::Store;

use super::evaluator::AlertEvaluator;
use crate::config::Config;
use crate::events::{Event, EventBus};
use crate::notify::sender::OutboxSender;
use crate::notify::{Channel, build_channel};

/// The running alerting tasks.
pub struct AlertingService {
    nudge: Arc<Notify>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl AlertingService {
    /// Starts evaluating `config`'s rules on what `events` announces, and delivering the
    /// outbox as `owner` (the instance id). Nothing starts when the configuration has
    /// neither rules nor channels.
    pub fn start(
        store: Store,
        config: Arc<Config>,
        events: &EventBus,
        owner: String,
    ) -> AlertingService {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let nudge = Arc::new(Notify::new());
        if !config.notifications.channels.is_empty() {
            let settings = config.notifications.delivery;
            let channels: BTreeMap<String, Arc<dyn Channel>> = config
                .notifications
                .channels
                .iter()
                .map(|(name, c)| (name.clone(), build_channel(c, settings.timeout)))
                .collect();
            let sender = Arc::new(
                OutboxSender::new(
                    store.clone(),
                    channels,
                    settings,
                    owner,
                    nudge.clone(),
                    config.secrets.clone(),
                )
                .with_telemetry(events.telemetry().clone()),
            );
            tasks.push(tokio::spawn(sender.run(stopped.clone())));
        }
        if !config.reports.is_empty() {
            let reporter = crate::reports::Reporter::new(
                store.clone(),
                config.clone(),
                events.clone(),
                nudge.clone(),
            );
            tasks.push(tokio::spawn(reporter.run(stopped.clone())));
        }
        if !config.alerts.rules.is_empty() {
            let every = config.alerts.evaluate_every;
            let evaluator =
                AlertEvaluator::new(store, config, nudge.clone()).with_events(events.clone());
            let receiver = events.subscribe();
            tasks.push(tokio::spawn(evaluate(evaluator, receiver, every, stopped)));
        }
        AlertingService { nudge, stop, tasks }
    }

    /// Wakes the outbox sender; give it to other evaluators (the API's) so that what they
    /// queue goes out at once.
    pub fn nudge(&self) -> Arc<Notify> {
        self.nudge.clone()
    }

    /// Stops both tasks: the evaluation in progress ends, deliveries in flight end (each
    /// bounded by its timeout), and claims on undelivered notifications are released.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn evaluate(
    evaluator: AlertEvaluator,
    mut events: broadcast::Receiver<Event>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            event = events.recv() => match event {
                Ok(Event::ExecutionRecorded { execution }) => {
                    // The runs recorded by now are judged together, dependencies first.
                    let mut executions = vec![*execution];
                    loop {
                        match events.try_recv() {
                            Ok(Event::ExecutionRecorded { execution }) => {
                                executions.push(*execution);
                            }
                            Ok(_) => {}
                            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                                tracing::warn!(
                                    "alerting fell behind and skipped {missed} event(s); the \
                                     next run of each workflow is judged on its full history"
                                );
                            }
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = evaluator.on_executions(&executions).await {
                        let runs: Vec<&str> =
                            executions.iter().map(|e| e.run_id.as_str()).collect();
                        tracing::warn!(
                            "alert rules not applied to run(s) {}: {e}",
                            runs.join(", ")
                        );
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => tracing::warn!(
                    "alerting fell behind and skipped {missed} event(s); the next run of each \
                     workflow is judged on its full history"
                ),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = ticker.tick() => {
                if let Err(e) = evaluator.tick(Timestamp::now()).await {
                    tracing::warn!("alert timer checks failed: {e}");
                }
            }
        }
    }
}
