//! The daemon's results writer: runs hand their rows to a bounded in-memory queue and go on;
//! one task writes what is queued in batches, one transaction each. When the database is out
//! of reach, results wait in the queue and are written when it returns, in order; beyond the
//! bound, new results are refused, counted and logged, never dropped silently. A write that
//! fails while the database still answers (a bug, a constraint) is retried one result at a
//! time, so one bad result cannot hold back the others; the ones that still fail are counted
//! and logged.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wfmon_model::WorkflowExecution;
use wfmon_store::{ExecutionRecord, ScheduleTally, Store, StoreError};

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

/// What the writer did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Jobs written.
    pub written: u64,
    /// Jobs waiting (queued or being retried).
    pub pending: u64,
    /// Jobs refused because the queue was full.
    pub overflowed: u64,
    /// Jobs the database refused for a reason other than being out of reach.
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
    closed: bool,
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

    /// Queues a job; returns false (and counts it) when the queue is full.
    pub fn send(&self, job: WriteJob) -> bool {
        let mut q = self.shared.queue.lock().expect("writer queue");
        if q.jobs.len() + q.in_flight >= self.shared.capacity {
            drop(q);
            let n = self
                .shared
                .counters
                .overflowed
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            self.shared.telemetry.result_dropped();
            if n == 1 || n.is_power_of_two() {
                tracing::error!(
                    lost = n,
                    capacity = self.shared.capacity,
                    "results lost: the database has been unreachable and the buffer of {} results is full ({} refused so far)",
                    self.shared.capacity,
                    n
                );
            }
            return false;
        }
        q.jobs.push_back(job);
        drop(q);
        self.shared.wake.notify_one();
        true
    }

    /// Counts so far.
    pub fn stats(&self) -> WriterStats {
        let q = self.shared.queue.lock().expect("writer queue");
        let c = &self.shared.counters;
        WriterStats {
            written: c.written.load(Ordering::Relaxed),
            pending: (q.jobs.len() + q.in_flight) as u64,
            overflowed: c.overflowed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting jobs once the queue is empty and waits up to `limit` for everything
    /// queued to be written. Returns how many jobs were left unwritten.
    pub async fn close(&self, limit: Duration) -> u64 {
        self.shared.queue.lock().expect("writer queue").closed = true;
        self.shared.wake.notify_one();
        let _ = tokio::time::timeout(limit, self.flush()).await;
        self.stats().pending
    }

    /// Waits until everything queued so far is written (or refused).
    pub async fn flush(&self) {
        loop {
            let idle = self.shared.idle.notified();
            if self.stats().pending == 0 {
                return;
            }
            idle.await;
        }
    }
}

async fn write_loop(store: Store, shared: Arc<Shared>) {
    let mut outage: Option<(std::time::Instant, u32)> = None;
    loop {
        let batch: Vec<WriteJob> = {
            let mut q = shared.queue.lock().expect("writer queue");
            let n = q.jobs.len().min(BATCH);
            q.in_flight = n;
            q.jobs.drain(..n).collect()
        };
        if batch.is_empty() {
            shared.idle.notify_waiters();
            let wake = shared.wake.notified();
            {
                let q = shared.queue.lock().expect("writer queue");
                if q.closed && q.jobs.is_empty() {
                    return;
                }
                if !q.jobs.is_empty() {
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
                    if let Some((since, tries)) = outage.take() {
                        tracing::info!(
                            "database reachable again after {:.1}s ({tries} failed writes); buffered results written",
                            since.elapsed().as_secs_f64()
                        );
                    }
                    shared
                        .counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
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
                            outage = Some((std::time::Instant::now(), 1));
                        }
                        Some((_, tries)) => *tries += 1,
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
        shared.queue.lock().expect("writer queue").in_flight = 0;
    }
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
                shared.counters.written.fetch_add(1, Ordering::Relaxed);
                announce(shared, std::slice::from_ref(job));
            }
            Err(e) => {
                shared.counters.failed.fetch_add(1, Ordering::Relaxed);
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
