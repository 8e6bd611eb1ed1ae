//! The scheduler: runs each workflow in each of its environments at its cron times, sharing
//! the work with any other instance on the same database.
//!
//! The loop wakes at the next due time (a little before, to claim in advance), claims due
//! runs in the store (one UPDATE; a lease per schedule, so each due run is claimed by one
//! instance), starts each run at its due time, within a global concurrency limit, and then
//! moves each claimed schedule to its next due time after now (a schedule that was due many
//! times during a downtime runs once, then keeps its cadence; the lease covers the schedule
//! until then, and the write does not hold up the runs). While a run is in flight its lease is
//! renewed; a due time that passes meanwhile is recorded as SKIPPED. The run's result, its
//! schedule counts and the lease release are written together by the results writer.
//!
//! While the database does not answer, runs go on without claims: each instance runs the
//! schedules of its configuration on its own clock (with several instances, a due run may
//! then run on each), results wait in the writer's buffer, and claiming resumes when the
//! database returns. The loop itself never waits long for the database: a claim or a look at
//! the next due time gives up after `DB_CALL_LIMIT` (a transient failure or no answer sends it
//! offline), moving schedules on and lease renewal run beside it, and while offline it makes
//! no database call at all (a probe beside it tells when the database answers again).
//!
//! Shutdown stops claiming, waits for runs in flight up to the grace period, then aborts the
//! rest (recorded as ABORTED), writes what is buffered and releases the leases. At start-up
//! and every few seconds, runs left RUNNING by a process that is gone are closed as ABORTED.

mod instance;
mod sweep;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use wfmon_model::{Timestamp, TriggeredBy, new_id};
use wfmon_store::{Advance, ClaimedRun, ScheduleSpec, ScheduleTally, Store, StoreError};

pub use instance::{default_instance_id, host_name, is_dead_local};
pub use sweep::sweep_interrupted;

use crate::config::Config;
use crate::events::{Event, EventBus};
use crate::executor::{Recording, execute};
use crate::recorder::RunIdentity;
use crate::runner::NoObserver;
use crate::telemetry::StoreOperation;
use crate::workflow::Workflow;
use crate::writer::{ResultWriter, WriteJob};

/// Longest the loop waits for a claim or a look at the next due time before it goes on
/// without the database. Shorter than the pool's connect timeout, so that an outage delays
/// the runs due as it starts by at most this much.
const DB_CALL_LIMIT: Duration = Duration::from_secs(2);

/// Longest a database call beside the loop (moving schedules on, renewing leases, sweeping)
/// may take before it is given up.
const SIDE_CALL_LIMIT: Duration = Duration::from_secs(10);

/// How often, while offline, the probe asks whether the database answers.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// The schedule id of a workflow in an environment: stable across restarts and instances.
/// Workflow names cannot contain `@` (see config validation), so the id splits back.
pub fn schedule_id(workflow: &str, environment: &str) -> String {
    format!("{workflow}@{environment}")
}

/// The schedule rows the configuration asks for, with their first due time after `now`.
pub fn schedule_specs(config: &Config, now: DateTime<Utc>) -> Vec<ScheduleSpec> {
    let mut specs = Vec::new();
    for w in &config.workflows {
        let Some(schedule) = &w.schedule else {
            continue;
        };
        for env in &w.environments {
            specs.push(ScheduleSpec {
                schedule_id: schedule_id(&w.name, env),
                workflow_name: w.name.clone(),
                environment: env.clone(),
                cron_expression: schedule.expression.clone(),
                timezone: schedule.timezone.name().to_string(),
                description: w.description.clone(),
                tags: (!w.tags.is_empty()).then(|| wfmon_model::json(serde_json::json!(w.tags))),
                next_run_at: schedule.next_after(now).map(Timestamp::from),
            });
        }
    }
    specs
}

/// Knobs that are not part of the configuration file.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How far ahead of a due time runs are claimed, so they start on time.
    pub lookahead: Duration,
    /// Longest sleep between two looks at the database (other instances change it).
    pub poll: Duration,
    /// Keep the delay between each run's due time and its start (for the benchmark).
    pub record_start_delays: bool,
    /// Where runs starting and ending are announced.
    pub events: EventBus,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            lookahead: Duration::from_millis(250),
            poll: Duration::from_secs(1),
            record_start_delays: false,
            events: EventBus::new(),
        }
    }
}

/// What happened between start and stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerSummary {
    /// Runs started.
    pub started: u64,
    /// Due runs recorded as SKIPPED because the previous one was still in flight.
    pub skipped: u64,
    /// Runs cut short by the shutdown.
    pub aborted: u64,
    /// Delays between due time and start, when recorded.
    pub start_delays: Vec<Duration>,
}

/// A run this instance has in flight, by schedule id.
struct InFlight {
    run_id: String,
    started_at: Timestamp,
    workflow: String,
    environment: String,
    /// The schedule's next due time as this instance holds it.
    next_due: Option<DateTime<Utc>>,
}

/// Shared between the loop and the run tasks.
struct State {
    store: Store,
    config: Arc<Config>,
    instance: String,
    writer: ResultWriter,
    permits: Arc<Semaphore>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// The latest due time started or recorded as SKIPPED, by schedule.
    last_due: Mutex<HashMap<String, DateTime<Utc>>>,
    finished: Notify,
    abort: watch::Sender<Option<String>>,
    started: std::sync::atomic::AtomicU64,
    delays: Option<Mutex<Vec<Duration>>>,
    events: EventBus,
}

/// Runs the scheduler until `shutdown` resolves (with the name of what stopped it, such as
/// `SIGTERM`). The caller has synced the schedules (`Store::sync_schedules`) and swept
/// interrupted runs; `writer` writes the results.
pub async fn run_scheduler(
    store: Store,
    config: Arc<Config>,
    writer: ResultWriter,
    instance: String,
    options: SchedulerOptions,
    shutdown: impl Future<Output = String>,
) -> SchedulerSummary {
    let (abort, _) = watch::channel(None);
    let state = Arc::new(State {
        store,
        permits: Arc::new(Semaphore::new(config.scheduler.concurrency)),
        config,
        instance,
        writer,
        in_flight: Mutex::new(HashMap::new()),
        last_due: Mutex::new(HashMap::new()),
        finished: Notify::new(),
        abort,
        started: Default::default(),
        delays: options.record_start_delays.then(|| Mutex::new(Vec::new())),
        events: options.events.clone(),
    });
    let lease = TimeDelta::from_std(state.config.scheduler.lease).unwrap_or(TimeDelta::MAX);
    let lookahead = TimeDelta::from_std(options.lookahead).unwrap_or_default();
    let poll = TimeDelta::from_std(options.poll).unwrap_or(TimeDelta::seconds(1));
    let mut tasks = JoinSet::new();
    let mut skipped = 0;
    let mut last_error: Option<String> = None;
    let mut next_maintenance = Utc::now() + lease / 3;
    let mut maintenance: Option<JoinHandle<Result<(), DbFault>>> = None;
    let mut offline: Option<Offline> = None;
    tokio::pin!(shutdown);
    let reason = loop {
        let now = Utc::now();
        let passed_over = state.mark_overlaps(now, offline.is_none());
        skipped += passed_over.len() as u64;
        if let Some(off) = &mut offline {
            // The due times recorded as SKIPPED are not run once the run in flight ends.
            for (id, following) in passed_over {
                match following {
                    Some(at) => off.next.insert(id, at),
                    None => off.next.remove(&id),
                };
            }
        }
        let free = state.permits.available_permits();
        let mut saturated = free == 0;
        let mut db_error = None;
        if let Some(off) = offline.take_if(|o| o.answers()) {
            // Back: the due times kept on this clock go to the database, so that what ran
            // during the outage is not run again as a catch-up.
            let next: Vec<(String, Timestamp)> = off
                .next
                .iter()
                .map(|(id, at)| (id.clone(), (*at).into()))
                .collect();
            match bounded(
                DB_CALL_LIMIT,
                "moving schedules past the runs made during the outage",
                state.store.forward_schedules(&next),
            )
            .await
            {
                Ok(_) => {
                    tracing::info!("database reachable again: runs are claimed in it again");
                    last_error = None;
                }
                Err(e) => {
                    // Not back after all: go on from this clock.
                    tracing::debug!("{e}");
                    offline = Some(Offline::start(state.store.clone(), off.next.clone()));
                }
            }
        }
        if offline.is_none() && free > 0 {
            let claimed = bounded(
                DB_CALL_LIMIT,
                "claiming due runs",
                state.store.claim_due(
                    &state.instance,
                    (now + lookahead).into(),
                    now.into(),
                    (now + lease).into(),
                    u32::try_from(free).unwrap_or(u32::MAX),
                ),
            )
            .await;
            match claimed {
                Ok(claims) => {
                    saturated = claims.len() >= free;
                    state.start(claims, now, &mut tasks, false);
                }
                Err(e) => {
                    // Out of reach, no answer in time, or a refusal that a trivial query
                    // meets too (a database closed to connections): go on without claims.
                    // Any other error is retried at the next turn.
                    if e.transient || !reachable(&state.store).await {
                        tracing::error!(
                            "database unreachable: schedules run from the configuration, \
                             unclaimed, until it returns; their results wait in memory"
                        );
                        offline = Some(Offline::start(
                            state.store.clone(),
                            state.local_schedule(now),
                        ));
                    }
                    db_error = Some(e);
                }
            }
        }
        if let Some(off) = &mut offline {
            let due = state.due_offline(&mut off.next, now + lookahead, now, free);
            saturated = due.len() >= free;
            state.start(due, now, &mut tasks, true);
        }
        if let Some(done) = maintenance.take_if(|m| m.is_finished())
            && let Ok(Err(e)) = done.await
        {
            db_error.get_or_insert(e);
        }
        if now >= next_maintenance {
            next_maintenance = now + lease / 3;
            // Beside the loop, one at a time: a slow database does not hold up the runs.
            if offline.is_none() && maintenance.is_none() {
                let state = state.clone();
                maintenance = Some(tokio::spawn(async move {
                    bounded(
                        SIDE_CALL_LIMIT,
                        "renewing leases and closing interrupted runs",
                        state.maintain(now, lease),
                    )
                    .await
                }));
            }
        }
        while tasks.try_join_next().is_some() {}
        let mut wake = now + poll;
        // With no free slot, what is due waits for one (`finished`), not for its due time.
        if offline.is_none() && !saturated {
            match bounded(
                DB_CALL_LIMIT,
                "reading the next due run",
                state.store.next_due(Timestamp::from(now)),
            )
            .await
            {
                Ok(Some(due)) => wake = wake.min(due.as_datetime() - lookahead),
                Ok(None) => {}
                Err(e) => {
                    db_error.get_or_insert(e);
                }
            }
        }
        if db_error.is_some() {
            state
                .events
                .telemetry()
                .store_error(StoreOperation::Schedule);
        }
        // While offline no call is made, so no error is no news: the recovery is told above.
        if offline.is_none() || db_error.is_some() {
            report_db_error(&mut last_error, db_error);
        }
        if let Some(due) = state.earliest_in_flight_due() {
            wake = wake.min(due);
        }
        if let Some(due) = offline
            .as_ref()
            .filter(|_| !saturated)
            .and_then(|o| o.next.values().min())
        {
            wake = wake.min(*due - lookahead);
        }
        if offline.is_some() {
            // The probe's answer is read at the next turn.
            wake = wake.min(now + PROBE_EVERY);
        }
        wake = wake.min(next_maintenance);
        let sleep = (wake - Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(1));
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = state.finished.notified(), if saturated => {}
            reason = &mut shutdown => break reason,
        }
    };
    if let Some(m) = maintenance {
        m.abort();
    }
    drop(offline);
    let aborted = state.stop(&mut tasks, &reason).await;
    SchedulerSummary {
        started: state.started.load(std::sync::atomic::Ordering::Relaxed),
        skipped,
        aborted,
        start_delays: state
            .delays
            .as_ref()
            .map(|d| std::mem::take(&mut *d.lock().expect("delays")))
            .unwrap_or_default(),
    }
}

/// A database call of the scheduler that failed or got no answer in time.
#[derive(Debug)]
struct DbFault {
    message: String,
    /// Out of reach or no answer: worth going on without the database.
    transient: bool,
}

impl From<StoreError> for DbFault {
    fn from(e: StoreError) -> DbFault {
        DbFault {
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for DbFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A database call of the scheduler, given up after `limit` (no answer, which counts as out
/// of reach).
async fn bounded<T>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, DbFault> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(DbFault::from),
        Err(_) => Err(DbFault {
            message: format!("{what}: no answer within {}s", limit.as_secs_f64()),
            transient: true,
        }),
    }
}

/// Whether the database answers a trivial query within `PROBE_EVERY`.
async fn reachable(store: &Store) -> bool {
    tokio::time::timeout(PROBE_EVERY, store.ping())
        .await
        .unwrap_or(false)
}

/// While the database does not answer: each schedule's next due time on this clock, and a
/// probe beside the loop that pings the database until it answers.
struct Offline {
    next: HashMap<String, DateTime<Utc>>,
    back: Arc<AtomicBool>,
    probe: JoinHandle<()>,
}

impl Offline {
    fn start(store: Store, next: HashMap<String, DateTime<Utc>>) -> Offline {
        let back = Arc::new(AtomicBool::new(false));
        let answered = back.clone();
        let probe = tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if reachable(&store).await {
                    answered.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        Offline { next, back, probe }
    }

    /// Whether the probe has had an answer.
    fn answers(&self) -> bool {
        self.back.load(Ordering::SeqCst)
    }
}

impl Drop for Offline {
    fn drop(&mut self) {
        self.probe.abort();
    }
}

/// Logs a database error once per outage, and its end.
fn report_db_error(last: &mut Option<String>, error: Option<DbFault>) {
    match (error, last.as_ref()) {
        (Some(e), None) => {
            tracing::error!("scheduler cannot reach the database, no new runs are claimed: {e}");
            *last = Some(e.to_string());
        }
        (None, Some(_)) => {
            tracing::info!("scheduler reaches the database again");
            *last = None;
        }
        _ => {}
    }
}

impl State {
    fn lookup(&self, workflow: &str, environment: &str) -> Option<&Workflow> {
        self.config
            .workflow(workflow)
            .filter(|w| w.schedule.is_some() && self.config.environments.contains_key(environment))
    }

    /// The next due time of every schedule of the configuration, on this clock: after the
    /// last one this instance started, and no earlier than a second before `now` (a run due
    /// as the database went away is not lost).
    fn local_schedule(&self, now: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
        let last = self.last_due.lock().expect("last due");
        let mut next = HashMap::new();
        for w in &self.config.workflows {
            let Some(schedule) = &w.schedule else {
                continue;
            };
            for env in &w.environments {
                let id = schedule_id(&w.name, env);
                let after = last.get(&id).map_or(now - TimeDelta::seconds(1), |l| {
                    (*l).max(now - TimeDelta::seconds(1))
                });
                if let Some(due) = schedule.next_after(after) {
                    next.insert(id, due);
                }
            }
        }
        next
    }

    /// While the database is unreachable: the runs due by `due_by` that are not in flight,
    /// up to `limit`, each schedule moved to its next due time.
    fn due_offline(
        &self,
        next: &mut HashMap<String, DateTime<Utc>>,
        due_by: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<ClaimedRun> {
        let in_flight = self.in_flight.lock().expect("in flight");
        let mut due: Vec<(DateTime<Utc>, String)> = next
            .iter()
            .filter(|(id, at)| **at <= due_by && !in_flight.contains_key(*id))
            .map(|(id, at)| (*at, id.clone()))
            .collect();
        drop(in_flight);
        due.sort();
        due.truncate(limit);
        let mut runs = Vec::with_capacity(due.len());
        for (at, id) in due {
            let Some((workflow, environment)) = id.split_once('@') else {
                continue;
            };
            let Some(schedule) = self
                .lookup(workflow, environment)
                .and_then(|w| w.schedule.as_ref())
            else {
                continue;
            };
            match schedule.next_after(at.max(now)) {
                Some(following) => next.insert(id.clone(), following),
                None => next.remove(&id),
            };
            runs.push(ClaimedRun {
                schedule_id: id.clone(),
                workflow_name: workflow.to_string(),
                environment: environment.to_string(),
                due_at: at.into(),
            });
        }
        runs
    }

    /// Starts claimed runs, then (unless `offline`) advances their schedules beside the loop.
    fn start(
        self: &Arc<Self>,
        claims: Vec<ClaimedRun>,
        now: DateTime<Utc>,
        tasks: &mut JoinSet<()>,
        offline: bool,
    ) {
        if claims.is_empty() {
            return;
        }
        let mut advances = Vec::with_capacity(claims.len());
        let mut runs = Vec::with_capacity(claims.len());
        let mut foreign = Vec::new();
        for claim in claims {
            let Some(workflow) = self.lookup(&claim.workflow_name, &claim.environment) else {
                foreign.push(claim);
                continue;
            };
            let schedule = workflow.schedule.as_ref().expect("scheduled workflow");
            let due = claim.due_at.as_datetime();
            let start = due.max(now);
            let next = schedule.next_after(start);
            advances.push(Advance {
                schedule_id: claim.schedule_id.clone(),
                last_run_at: Some(start.into()),
                next_run_at: next.map(Timestamp::from),
            });
            runs.push((claim, next));
        }
        for claim in &foreign {
            // Its lease is left to expire, so that an instance that has it can take it then.
            tracing::warn!(
                schedule = %claim.schedule_id,
                "claimed a schedule this instance's configuration does not have; leaving it \
                 to the others (do all instances share one configuration?)"
            );
        }
        for (claim, next) in runs {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                tracing::warn!(schedule = %claim.schedule_id, "no free run slot for a claimed run; it waits for its lease to expire");
                continue;
            };
            let run_id = new_id("run");
            self.last_due
                .lock()
                .expect("last due")
                .insert(claim.schedule_id.clone(), claim.due_at.as_datetime());
            self.in_flight.lock().expect("in flight").insert(
                claim.schedule_id.clone(),
                InFlight {
                    run_id: run_id.clone(),
                    started_at: claim.due_at.max(now.into()),
                    workflow: claim.workflow_name.clone(),
                    environment: claim.environment.clone(),
                    next_due: next,
                },
            );
            let state = self.clone();
            tasks.spawn(async move {
                state.run(claim, run_id).await;
                drop(permit);
                state.finished.notify_one();
            });
        }
        // Beside the loop, so that a slow write (another writer holding the database) delays
        // neither these runs nor the next ones: until it is done the lease keeps the
        // schedules, and if it fails, the run's result writes the next due time.
        if !offline {
            self.advance_beside(advances, tracing::Level::WARN);
        }
    }

    /// Moves schedules this instance holds on, in a task of its own (bounded by
    /// `SIDE_CALL_LIMIT`); a failure is logged at `level`.
    fn advance_beside(&self, advances: Vec<Advance>, level: tracing::Level) {
        if advances.is_empty() {
            return;
        }
        let store = self.store.clone();
        let instance = self.instance.clone();
        tokio::spawn(async move {
            let moved = bounded(
                SIDE_CALL_LIMIT,
                "advancing schedules",
                store.advance_schedules(&instance, &advances),
            )
            .await;
            if let Err(e) = moved {
                if level == tracing::Level::WARN {
                    tracing::warn!(
                        "could not move {} schedule(s) to their next due time: {e}",
                        advances.len()
                    );
                } else {
                    tracing::debug!(
                        "could not move {} skipped schedule(s) on now (their run's result \
                         will): {e}",
                        advances.len()
                    );
                }
            }
        });
    }

    /// One scheduled run, from its due time to its recorded result.
    async fn run(self: &Arc<Self>, claim: ClaimedRun, run_id: String) {
        let due = claim.due_at.as_datetime();
        if let Ok(wait) = (due - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let delay = (Utc::now() - due).to_std().unwrap_or_default();
        self.events.telemetry().scheduler_lag(delay);
        if let Some(delays) = &self.delays {
            delays.lock().expect("delays").push(delay);
        }
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let workflow = self
            .lookup(&claim.workflow_name, &claim.environment)
            .expect("looked up when claimed");
        let environment = &self.config.environments[&claim.environment];
        let identity = RunIdentity {
            run_id,
            workflow: claim.workflow_name.clone(),
            environment: claim.environment.clone(),
            triggered_by: TriggeredBy::Scheduled,
            attempt: 1,
            first_run_id: None,
            schedule_id: Some(claim.schedule_id.clone()),
            instance_id: self.instance.clone(),
            due_at: Some(claim.due_at),
        };
        let tally = |passed: bool| {
            let next_due = self
                .in_flight
                .lock()
                .expect("in flight")
                .get(&claim.schedule_id)
                .and_then(|f| f.next_due);
            Some(ScheduleTally {
                schedule_id: claim.schedule_id.clone(),
                run_id: None,
                owner: self.instance.clone(),
                passed,
                next_run_at: next_due.map(Timestamp::from),
            })
        };
        let abort = self.abort.subscribe();
        self.events.publish(Event::RunStarted {
            run_id: identity.run_id.clone(),
            workflow_name: identity.workflow.clone(),
            environment: identity.environment.clone(),
            started_at: Timestamp::now(),
        });
        let (attempts, _) = execute(
            &self.config,
            workflow,
            environment,
            identity,
            Recording::Queued(&self.writer, &tally),
            &NoObserver,
            Some(abort),
        )
        .await;
        if let Some(last) = attempts.last() {
            let o = &last.outcome;
            self.events.publish(Event::RunFinished {
                run_id: last.identity.run_id.clone(),
                workflow_name: claim.workflow_name.clone(),
                environment: claim.environment.clone(),
                status: o.status,
                duration_ms: o.duration_ms,
                error_message: o.error.clone(),
                completed_at: Timestamp::now(),
            });
            tracing::info!(
                run_id = %last.identity.run_id,
                "{}@{} {} in {}ms{}{}",
                claim.workflow_name,
                claim.environment,
                o.status.as_str(),
                o.duration_ms,
                if attempts.len() > 1 { format!(" (attempt {})", attempts.len()) } else { String::new() },
                o.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(),
            );
        }
        self.in_flight
            .lock()
            .expect("in flight")
            .remove(&claim.schedule_id);
    }

    /// Records a SKIPPED run for each schedule due while its previous run is still in flight,
    /// and (when `online`) moves the schedule on in the database, beside the loop. Returns
    /// the schedules skipped with their next due times.
    fn mark_overlaps(
        &self,
        now: DateTime<Utc>,
        online: bool,
    ) -> Vec<(String, Option<DateTime<Utc>>)> {
        let mut skipped = Vec::new();
        {
            let mut in_flight = self.in_flight.lock().expect("in flight");
            for (schedule_id, run) in in_flight.iter_mut() {
                let Some(due) = run.next_due.filter(|d| *d <= now) else {
                    continue;
                };
                let Some(workflow) = self.lookup(&run.workflow, &run.environment) else {
                    continue;
                };
                let schedule = workflow.schedule.as_ref().expect("scheduled workflow");
                run.next_due = schedule.next_after(now);
                // Handled, as a started run's due time is: a schedule run on this clock
                // after an outage begins resumes after it, not at it.
                self.last_due
                    .lock()
                    .expect("last due")
                    .insert(schedule_id.clone(), due);
                let identity = RunIdentity {
                    run_id: new_id("run"),
                    workflow: run.workflow.clone(),
                    environment: run.environment.clone(),
                    triggered_by: TriggeredBy::Scheduled,
                    attempt: 1,
                    first_run_id: None,
                    schedule_id: Some(schedule_id.clone()),
                    instance_id: self.instance.clone(),
                    due_at: Some(due.into()),
                };
                let reason = format!(
                    "skipped: the previous run {} (started {}) was still in flight at this due time",
                    run.run_id, run.started_at
                );
                skipped.push((
                    identity.skipped_row(reason),
                    Advance {
                        schedule_id: schedule_id.clone(),
                        last_run_at: None,
                        next_run_at: run.next_due.map(Timestamp::from),
                    },
                ));
            }
        }
        let mut advances = Vec::new();
        for (row, advance) in skipped {
            tracing::info!(
                workflow = %row.workflow_name,
                environment = %row.environment,
                "due run skipped: the previous one is still in flight"
            );
            self.events.publish(Event::RunFinished {
                run_id: row.run_id.clone(),
                workflow_name: row.workflow_name.clone(),
                environment: row.environment.clone(),
                status: row.status,
                duration_ms: 0,
                error_message: row.error_message.clone(),
                completed_at: row.completed_at.unwrap_or(row.started_at),
            });
            self.writer.send(WriteJob::Finished(
                Box::new(wfmon_store::ExecutionRecord {
                    execution: row,
                    steps: Vec::new(),
                    metrics: Vec::new(),
                    health_checks: Vec::new(),
                }),
                None,
            ));
            advances.push(advance);
        }
        let passed_over = advances
            .iter()
            .map(|a| {
                (
                    a.schedule_id.clone(),
                    a.next_run_at.map(|t| t.as_datetime()),
                )
            })
            .collect();
        if online {
            self.advance_beside(advances, tracing::Level::DEBUG);
        }
        passed_over
    }

    fn earliest_in_flight_due(&self) -> Option<DateTime<Utc>> {
        self.in_flight
            .lock()
            .expect("in flight")
            .values()
            .filter_map(|f| f.next_due)
            .min()
    }

    /// Renews the leases of the schedules this instance has runs in flight for (a lease it
    /// holds for any other reason, such as a claim it could not start, is left to expire) and
    /// closes runs that other processes left RUNNING.
    async fn maintain(&self, now: DateTime<Utc>, lease: TimeDelta) -> Result<(), StoreError> {
        let held: Vec<String> = self
            .in_flight
            .lock()
            .expect("in flight")
            .keys()
            .cloned()
            .collect();
        if !held.is_empty() {
            self.store
                .renew_leases(&self.instance, &held, (now + lease).into())
                .await?;
        }
        sweep_interrupted(&self.store, &self.config, &self.instance, false).await?;
        self.store.end_expired_sessions(now.into()).await?;
        Ok(())
    }

    /// Stops: waits for runs in flight up to the grace period, aborts the rest, writes what
    /// is buffered and releases this instance's leases. Returns how many runs were aborted.
    async fn stop(&self, tasks: &mut JoinSet<()>, signal: &str) -> u64 {
        let grace = self.config.scheduler.shutdown_grace;
        let in_flight = tasks.len();
        if in_flight > 0 {
            tracing::info!(
                "{signal}: no new runs; waiting up to {}s for {in_flight} run(s) in flight",
                grace.as_secs_f64()
            );
        }
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        let mut aborted = 0;
        if !drained {
            aborted = tasks.len() as u64;
            let reason = format!(
                "aborted: wfmon stopped ({signal}) and the run did not end within the shutdown grace of {}s",
                grace.as_secs_f64()
            );
            tracing::warn!("aborting {aborted} run(s) still in flight");
            let _ = self.abort.send(Some(reason));
            while tasks.join_next().await.is_some() {}
        }
        let left = self.writer.close(Duration::from_secs(10)).await;
        if left > 0 {
            tracing::error!(
                "{left} result(s) could not be written before exit: the database is unreachable"
            );
        }
        match self.store.release_leases(&self.instance).await {
            Ok(_) => {}
            Err(e) => tracing::warn!("could not release this instance's claims (they expire): {e}"),
        }
        aborted
    }
}
