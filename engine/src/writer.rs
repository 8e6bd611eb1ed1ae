//! The daemon's results writer: runs hand their rows to a bounded in-memory queue and go on;
//! one task writes what is queued in batches, one transaction each. When the database is out
//! of reach, results wait in the queue and are written when it returns, in order; a run's
//! result takes the place of its RUNNING row if that is still queued, so a run that ended
//! holds one place. Beyond the bound, new results are refused, counted per run and logged,
//! never dropped silently; a run whose result was refused after its RUNNING row was written
//! is closed as ABORTED, with the reason, as soon as the database answers (and at stop), so
//! it is never left RUNNING. A write that fails while the database still answers (a bug, a
//! constraint) is retried one job at a time, so one bad result cannot hold back the others;
//! the results that still fail are counted and logged.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wfmon_model::WorkflowExecution;
use wfmon_store::{ExecutionRecord, RunningExecution, ScheduleTally, Store, StoreError};

use crate::events::{Event, EventBus};
use crate::telemetry::{StoreOperation, Telemetry};

/// Most results written in one transaction.
const BATCH: usize = 500;

/// One thing to write.
#[derive(Debug, Clone)]
pub enum WriteJob {
    /// A run started: its RUNNING row.
    Started(Box<WorkflowExecution>),
    /// A run ended: its rows, and the schedule count if it ended a scheduled run.
    Finished(Box<ExecutionRecord>, Option<ScheduleTally>),
}

/// What the writer did so far, counted in runs (a run's result is its completed row; its
/// RUNNING row is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Results written.
    pub written: u64,
    /// Results waiting (queued or being retried).
    pub pending: u64,
    /// Results refused because the queue was full: runs lost.
    pub overflowed: u64,
    /// Results the database refused for a reason other than being out of reach.
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    overflowed: AtomicU64,
    failed: AtomicU64,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    idle: Notify,
    capacity: usize,
    counters: Counters,
    events: Option<EventBus>,
    /// The bus's counters, or the writer's own without a bus.
    telemetry: Arc<Telemetry>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<WriteJob>,
    /// Jobs taken by the writer task and not yet written.
    in_flight: usize,
    /// Results (`Finished` jobs) among them.
    in_flight_results: usize,
    /// Runs whose RUNNING row the writer task has taken to write and whose result has not
    /// been sent yet: if that result is refused, the row must be closed.
    started_taken: HashSet<String>,
    /// Runs whose result was refused while their RUNNING row may be in the database: closed
    /// as ABORTED at the next chance.
    orphans: Vec<Orphan>,
    closed: bool,
}

/// A run to close as ABORTED because its result was lost.
#[derive(Debug, Clone)]
struct Orphan {
    run: RunningExecution,
    reason: String,
    ended_at: wfmon_model::Timestamp,
}

impl Queue {
    /// Results waiting, queued or being written.
    fn pending_results(&self) -> usize {
        self.in_flight_results
            + self
                .jobs
                .iter()
                .filter(|j| matches!(j, WriteJob::Finished(..)))
                .count()
    }
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct ResultWriter {
    shared: Arc<Shared>,
}

impl ResultWriter {
    /// Starts the writer task on `store`, keeping at most `capacity` results in memory.
    pub fn start(store: Store, capacity: usize) -> (ResultWriter, tokio::task::JoinHandle<()>) {
        ResultWriter::start_with_events(store, capacity, None)
    }

    /// Like `start`, and announces each finished execution on `events` once it is committed
    /// (`Event::ExecutionRecorded`), for alerting and live views; failed writes and refused
    /// results are counted in the bus's telemetry.
    pub fn start_with_events(
        store: Store,
        capacity: usize,
        events: Option<EventBus>,
    ) -> (ResultWriter, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            idle: Notify::new(),
            capacity: capacity.max(1),
            counters: Counters::default(),
            telemetry: events
                .as_ref()
                .map(|e| e.telemetry().clone())
                .unwrap_or_default(),
            events,
        });
        let task = tokio::spawn(write_loop(store, shared.clone()));
        (ResultWriter { shared }, task)
    }

    /// Queues a job; returns false when the queue is full (a refused result is counted as a
    /// run lost). A result whose run's RUNNING row is still queued takes its place.
    pub fn send(&self, job: WriteJob) -> bool {
        let mut q = self.shared.queue.lock().expect("writer queue");
        if let WriteJob::Finished(record, _) = &job {
            let run_id = record.execution.run_id.as_str();
            let sent_started = q.started_taken.remove(run_id);
            let queued_started = q
                .jobs
                .iter()
                .rposition(|j| matches!(j, WriteJob::Started(e) if e.run_id == run_id));
            if let Some(i) = queued_started {
                q.jobs[i] = job;
                drop(q);
                self.shared.wake.notify_one();
                return true;
            }
            if q.jobs.len() + q.in_flight >= self.shared.capacity {
                if sent_started {
                    let e = &record.execution;
                    q.orphans.push(Orphan {
                        run: RunningExecution {
                            run_id: e.run_id.clone(),
                            workflow_name: e.workflow_name.clone(),
                            environment: e.environment.clone(),
                            started_at: e.started_at,
                            schedule_id: e.schedule_id.clone(),
                            instance_id: e.instance_id.clone(),
                            lease_owner: None,
                            lease_expires_at: None,
                        },
                        reason: format!(
                            "aborted: the run ended {} but its result was lost: the buffer of {} \
                             results was full while the database did not answer",
                            e.status.as_str(),
                            self.shared.capacity
                        ),
                        ended_at: e.completed_at.unwrap_or(e.started_at),
                    });
                }
                drop(q);
                self.refused(run_id);
                return false;
            }
        } else if q.jobs.len() + q.in_flight >= self.shared.capacity {
            // Not counted: the run's result may still find a place, and is what counts.
            return false;
        }
        q.jobs.push_back(job);
        drop(q);
        self.shared.wake.notify_one();
        true
    }

    /// Counts and logs a result refused for want of room.
    fn refused(&self, run_id: &str) {
        let n = self
            .shared
            .counters
            .overflowed
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        self.shared.telemetry.result_dropped();
        if n == 1 || n.is_power_of_two() {
            tracing::error!(
                run_id = %run_id,
                lost = n,
                capacity = self.shared.capacity,
                "run result lost: the buffer of {} results is full while the database does not \
                 answer ({} run(s) lost so far)",
                self.shared.capacity,
                n
            );
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> WriterStats {
        let q = self.shared.queue.lock().expect("writer queue");
        let c = &self.shared.counters;
        WriterStats {
            written: c.written.load(Ordering::Relaxed),
            pending: q.pending_results() as u64,
            overflowed: c.overflowed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting jobs once the queue is empty and waits up to `limit` for everything
    /// queued to be written (and runs whose result was lost to be closed). Returns how many
    /// results were left unwritten.
    pub async fn close(&self, limit: Duration) -> u64 {
        self.shared.queue.lock().expect("writer queue").closed = true;
        self.shared.wake.notify_one();
        let _ = tokio::time::timeout(limit, self.flush()).await;
        self.stats().pending
    }

    /// Waits until everything queued so far is written (or refused), and the runs whose
    /// result was lost are closed.
    pub async fn flush(&self) {
        loop {
            let idle = self.shared.idle.notified();
            {
                let q = self.shared.queue.lock().expect("writer queue");
                if q.jobs.is_empty() && q.in_flight == 0 && q.orphans.is_empty() {
                    return;
                }
            }
            idle.await;
        }
    }
}

async fn write_loop(store: Store, shared: Arc<Shared>) {
    // Since when writes fail, how many did, and how many runs were lost before.
    let mut outage: Option<(std::time::Instant, u32, u64)> = None;
    loop {
        let batch: Vec<WriteJob> = {
            let mut q = shared.queue.lock().expect("writer queue");
            let n = q.jobs.len().min(BATCH);
            let batch: Vec<WriteJob> = q.jobs.drain(..n).collect();
            q.in_flight = n;
            q.in_flight_results = 0;
            for job in &batch {
                match job {
                    WriteJob::Started(e) => {
                        q.started_taken.insert(e.run_id.clone());
                    }
                    WriteJob::Finished(..) => q.in_flight_results += 1,
                }
            }
            batch
        };
        if batch.is_empty() {
            let closed = shared.queue.lock().expect("writer queue").closed;
            if close_orphans(&store, &shared).await.is_err() {
                if !closed {
                    // The database does not answer: try again in a while, or on new work.
                    let wake = shared.wake.notified();
                    let _ = tokio::time::timeout(Duration::from_secs(1), wake).await;
                    continue;
                }
                let left = std::mem::take(&mut shared.queue.lock().expect("writer queue").orphans);
                tracing::error!(
                    "{} run(s) whose result was lost stay RUNNING: the database does not answer \
                     (the next start, or another instance, closes them)",
                    left.len()
                );
            }
            shared.idle.notify_waiters();
            let wake = shared.wake.notified();
            {
                let q = shared.queue.lock().expect("writer queue");
                if q.closed && q.jobs.is_empty() {
                    return;
                }
                if !q.jobs.is_empty() || !q.orphans.is_empty() {
                    continue;
                }
            }
            wake.await;
            continue;
        }
        let mut delay = Duration::from_millis(100);
        loop {
            match write(&store, &batch).await {
                Ok(()) => {
                    if let Some((since, tries, lost_before)) = outage.take() {
                        let lost = shared.counters.overflowed.load(Ordering::Relaxed);
                        tracing::info!(
                            "database reachable again after {:.1}s ({tries} failed writes); \
                             buffered results written; {} run(s) lost to a full buffer \
                             meanwhile, {lost} in all",
                            since.elapsed().as_secs_f64(),
                            lost - lost_before,
                        );
                    }
                    shared
                        .counters
                        .written
                        .fetch_add(results(&batch), Ordering::Relaxed);
                    announce(&shared, &batch);
                    break;
                }
                Err(e) if e.is_transient() || !store.ping().await => {
                    shared.telemetry.store_error(StoreOperation::WriteResults);
                    match &mut outage {
                        None => {
                            tracing::error!(
                                "cannot write results, keeping them in memory (up to {}) and retrying: {e}",
                                shared.capacity
                            );
                            outage = Some((
                                std::time::Instant::now(),
                                1,
                                shared.counters.overflowed.load(Ordering::Relaxed),
                            ));
                        }
                        Some((_, tries, _)) => *tries += 1,
                    }
                    let closed = shared.queue.lock().expect("writer queue").closed;
                    if closed {
                        // Shutdown: keep trying until `close` gives up waiting.
                        delay = delay.min(Duration::from_millis(250));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    shared.telemetry.store_error(StoreOperation::WriteResults);
                    write_one_by_one(&store, &batch, &shared, &e).await;
                    break;
                }
            }
        }
        {
            let mut q = shared.queue.lock().expect("writer queue");
            q.in_flight = 0;
            q.in_flight_results = 0;
        }
        // Written: the runs whose result was lost meanwhile can be closed now.
        let _ = close_orphans(&store, &shared).await;
    }
}

/// How many results (completed rows) a batch holds.
fn results(batch: &[WriteJob]) -> u64 {
    batch
        .iter()
        .filter(|j| matches!(j, WriteJob::Finished(..)))
        .count() as u64
}

/// Closes as ABORTED, with the reason, the runs whose result was lost after their RUNNING
/// row was written (one transaction each; a row that is not RUNNING is left alone). Fails,
/// keeping the rest for later, when the database does not answer.
async fn close_orphans(store: &Store, shared: &Shared) -> Result<(), StoreError> {
    let orphans = shared.queue.lock().expect("writer queue").orphans.clone();
    if orphans.is_empty() {
        return Ok(());
    }
    let mut done = HashSet::new();
    let mut outcome = Ok(());
    let mut closed = 0;
    for o in &orphans {
        match store
            .abort_executions(std::slice::from_ref(&o.run), &o.reason, o.ended_at)
            .await
        {
            Ok(n) => {
                closed += n;
                done.insert(o.run.run_id.clone());
            }
            Err(e) => {
                shared.telemetry.store_error(StoreOperation::WriteResults);
                outcome = Err(e);
                break;
            }
        }
    }
    if closed > 0 {
        tracing::warn!(
            "{closed} run(s) whose result was lost to a full buffer closed as ABORTED, so none \
             is left RUNNING"
        );
    }
    shared
        .queue
        .lock()
        .expect("writer queue")
        .orphans
        .retain(|o| !done.contains(&o.run.run_id));
    outcome
}

/// After a batch failed for a reason retrying will not fix: writes each job alone, so only
/// the ones at fault are lost, and logs those.
async fn write_one_by_one(store: &Store, batch: &[WriteJob], shared: &Shared, cause: &StoreError) {
    tracing::warn!(
        "a batch of {} results was refused ({cause}); writing them one by one",
        batch.len()
    );
    for job in batch {
        match write(store, std::slice::from_ref(job)).await {
            Ok(()) => {
                shared
                    .counters
                    .written
                    .fetch_add(results(std::slice::from_ref(job)), Ordering::Relaxed);
                announce(shared, std::slice::from_ref(job));
            }
            Err(e) => {
                shared
                    .counters
                    .failed
                    .fetch_add(results(std::slice::from_ref(job)), Ordering::Relaxed);
                shared.telemetry.store_error(StoreOperation::WriteResults);
                let run_id = match job {
                    WriteJob::Started(e) => &e.run_id,
                    WriteJob::Finished(r, _) => &r.execution.run_id,
                };
                tracing::error!(run_id = %run_id, "result not recorded: {e}");
            }
        }
    }
}

/// Announces the finished executions of a committed batch.
fn announce(shared: &Shared, batch: &[WriteJob]) {
    let Some(events) = &shared.events else {
        return;
    };
    for job in batch {
        if let WriteJob::Finished(record, _) = job {
            events.publish(Event::ExecutionRecorded {
                execution: Box::new(record.execution.clone()),
            });
        }
    }
}

/// Writes a batch in one transaction. A run that started and finished within the batch gets
/// only its completed row: its RUNNING row would be overwritten in the same transaction, so
/// nobody could ever read it, and writing it costs as much as the completed row.
async fn write(store: &Store, batch: &[WriteJob]) -> Result<(), StoreError> {
    let mut records = Vec::new();
    let mut tallies = Vec::new();
    for job in batch {
        if let WriteJob::Finished(r, t) = job {
            records.push(&**r);
            tallies.extend(t.as_ref());
        }
    }
    let finished: HashSet<&str> = records
        .iter()
        .map(|r| r.execution.run_id.as_str())
        .collect();
    let started: Vec<&WorkflowExecution> = batch
        .iter()
        .filter_map(|job| match job {
            WriteJob::Started(e) if !finished.contains(e.run_id.as_str()) => Some(&**e),
            _ => None,
        })
        .collect();
    store.write_results(&started, &records, &tallies).await
}
