//! What every handler shares: the store, the configuration, the event bus, the trigger for
//! runs on request, the scheduler's heartbeat, and the signal that ends live streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use wfmon_engine::alerting::AlertEvaluator;
use wfmon_engine::config::Config;
use wfmon_engine::events::EventBus;
use wfmon_engine::trigger::Trigger;
use wfmon_store::{RecentFigures, Store};

use crate::api::overview::Computed;
use crate::auth::{AuthSettings, LoginLimiter};
use crate::error::ApiError;
use crate::metrics::RunMetrics;
use crate::shared::SharedRead;

/// The API's shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    store: Store,
    config: Arc<Config>,
    events: EventBus,
    trigger: Option<Trigger>,
    heartbeat: Option<SchedulerHeartbeat>,
    alerts: Arc<AlertEvaluator>,
    stopping: Arc<watch::Sender<bool>>,
    auth: Arc<AuthSettings>,
    login_limiter: Arc<LoginLimiter>,
    run_metrics: Arc<RunMetrics>,
    overview: Arc<SharedRead<Computed, ApiError>>,
    recent: Arc<RecentFigures>,
}

impl AppState {
    /// State over `store`, describing `config`, streaming `events`. Without a trigger,
    /// "run now" answers 503; without a heartbeat, readiness does not check the scheduler.
    /// Alert actions are announced on `events`; what they queue waits for the outbox
    /// sender's next poll unless `with_alert_nudge` connects them.
    pub fn new(store: Store, config: Arc<Config>, events: EventBus) -> AppState {
        let alerts = alert_evaluator(&store, &config, &events, Arc::new(Notify::new()));
        let run_metrics = RunMetrics::follow(&events);
        AppState {
            inner: Arc::new(Inner {
                alerts,
                store,
                config,
                events,
                trigger: None,
                heartbeat: None,
                stopping: Arc::new(watch::channel(false).0),
                auth: Arc::new(AuthSettings::off()),
                login_limiter: Arc::new(LoginLimiter::default()),
                run_metrics,
                overview: Arc::new(SharedRead::new()),
                recent: Arc::new(RecentFigures::new()),
            }),
        }
    }

    /// Starts runs on request with `trigger` (give it the same configuration).
    pub fn with_trigger(mut self, trigger: Trigger) -> AppState {
        Arc::make_mut(&mut self.inner).trigger = Some(trigger);
        self
    }

    /// Makes readiness require that `heartbeat` beat recently.
    pub fn with_heartbeat(mut self, heartbeat: SchedulerHeartbeat) -> AppState {
        Arc::make_mut(&mut self.inner).heartbeat = Some(heartbeat);
        self
    }

    /// Guards every route with `settings` (without it, authentication is off).
    pub fn with_auth(mut self, settings: AuthSettings) -> AppState {
        Arc::make_mut(&mut self.inner).auth = Arc::new(settings);
        self
    }

    /// How requests authenticate.
    pub fn auth(&self) -> &AuthSettings {
        &self.inner.auth
    }

    /// The counters of `/metrics`.
    pub(crate) fn run_metrics(&self) -> &RunMetrics {
        &self.inner.run_metrics
    }

    /// The overview's computations, shared by the requests that arrive together.
    pub(crate) fn overview_reads(&self) -> &SharedRead<Computed, ApiError> {
        &self.inner.overview
    }

    /// What the overview keeps between its computations.
    pub(crate) fn recent_figures(&self) -> &RecentFigures {
        &self.inner.recent
    }

    /// The failed-login counts.
    pub(crate) fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }

    /// Wakes the outbox sender through `nudge` when an alert action queues notifications
    /// (`AlertingService::nudge`).
    pub fn with_alert_nudge(mut self, nudge: Arc<Notify>) -> AppState {
        let inner = Arc::make_mut(&mut self.inner);
        inner.alerts = alert_evaluator(&inner.store, &inner.config, &inner.events, nudge);
        self
    }

    /// What applies people's alert actions (acknowledge, resolve, silence).
    pub fn alerts(&self) -> &AlertEvaluator {
        &self.inner.alerts
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The trigger, if runs can be started.
    pub fn trigger(&self) -> Option<&Trigger> {
        self.inner.trigger.as_ref()
    }

    /// The scheduler's heartbeat, if readiness checks it.
    pub fn heartbeat(&self) -> Option<&SchedulerHeartbeat> {
        self.inner.heartbeat.as_ref()
    }

    /// Ends every live stream (SSE, WebSocket), so that a graceful shutdown can finish.
    pub fn stop_streams(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Resolves once `stop_streams` was called.
    pub(crate) fn streams_stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.inner.stopping.subscribe();
        async move {
            let _ = receiver.wait_for(|stopped| *stopped).await;
        }
    }

    /// Replaces secret values (from `${ENV}` references in the configuration) with `***`.
    pub fn redact(&self, text: &str) -> String {
        self.inner.config.redact(text)
    }
}

fn alert_evaluator(
    store: &Store,
    config: &Arc<Config>,
    events: &EventBus,
    nudge: Arc<Notify>,
) -> Arc<AlertEvaluator> {
    Arc::new(AlertEvaluator::new(store.clone(), config.clone(), nudge).with_events(events.clone()))
}

/// When the scheduler last went round its loop, as the caller reports it (`beat`). Readiness
/// fails when the last beat is older than `max_age`, before the first beat, and after `stop`.
#[derive(Debug, Clone)]
pub struct SchedulerHeartbeat {
    /// Milliseconds since the Unix epoch of the last beat; 0 before the first, -1 stopped.
    last: Arc<AtomicI64>,
    max_age: Duration,
}

impl SchedulerHeartbeat {
    /// A heartbeat that must have beaten within `max_age`.
    pub fn new(max_age: Duration) -> SchedulerHeartbeat {
        SchedulerHeartbeat {
            last: Arc::new(AtomicI64::new(0)),
            max_age,
        }
    }

    /// Records a beat now.
    pub fn beat(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        // Once stopped, stays stopped.
        let _ = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                (last >= 0).then_some(now)
            });
    }

    /// Records that the scheduler is stopping: not ready from now on.
    pub fn stop(&self) {
        self.last.store(-1, Ordering::Relaxed);
    }

    /// Ok if the last beat is recent; otherwise why not.
    pub fn check(&self) -> Result<(), String> {
        match self.last.load(Ordering::Relaxed) {
            -1 => Err("the scheduler is stopping".into()),
            0 => Err("the scheduler has not started".into()),
            last => {
                let age = chrono::Utc::now().timestamp_millis().saturating_sub(last);
                let max = i64::try_from(self.max_age.as_millis()).unwrap_or(i64::MAX);
                if age <= max {
                    Ok(())
                } else {
                    Err(format!(
                        "the scheduler's loop last ran {:.1}s ago (limit {:.1}s)",
                        age as f64 / 1000.0,
                        self.max_age.as_secs_f64()
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_fresh_stale_or_stopped() {
        let heartbeat = SchedulerHeartbeat::new(Duration::from_millis(50));
        assert!(heartbeat.check().unwrap_err().contains("not started"));
        heartbeat.beat();
        assert!(heartbeat.check().is_ok());
        std::thread::sleep(Duration::from_millis(80));
        assert!(heartbeat.check().unwrap_err().contains("ago"));
        heartbeat.stop();
        heartbeat.beat();
        assert!(heartbeat.check().unwrap_err().contains("stopping"));
    }
}
