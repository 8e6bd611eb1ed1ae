//! Throughput and CPU time per check: single-request workflows executed through
//! `executor::execute` with every result recorded through the daemon's `ResultWriter`, against
//! a plain load loop of the same requests with the runner's reqwest client settings.
//!
//! Every measurement sends checks from `workers` concurrent tasks until its budget (a duration,
//! a number of checks, or both) is spent, and is timed from the first request to the last result
//! in the database (the writer is flushed before the clock stops). Only checks that passed
//! count; for the recorded ones, only the PASSED executions found in the database afterwards.
//! The informational methods split the difference between the baseline and wfmon into its
//! parts: a new connection per check, a new HTTP client per check, the runner, the writer.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use wfmon_engine::config::Config;
use wfmon_engine::executor::{Recording, execute};
use wfmon_engine::recorder::{AttemptFate, RunIdentity, record_of};
use wfmon_engine::runner::NoObserver;
use wfmon_engine::writer::{ResultWriter, WriteJob};
use wfmon_model::{ExecutionStatus, TriggeredBy, WorkflowMetric, WorkflowStepResult, new_id};
use wfmon_store::{DatabaseUrl, OpenMode, Store};

use super::configs::ENVIRONMENT;
use super::cpu;
use super::target::Target;
use crate::exit::Failure;

/// How a measurement sent its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Method {
    /// A plain load loop: one shared client (the runner's settings), no recording.
    Baseline,
    /// The load loop on one shared client that keeps no idle connection: a new TCP
    /// connection per request; informational.
    ConnectionPerRequest,
    /// The load loop with a new client (and cookie jar) per request, as the runner makes
    /// one per run; informational.
    ClientPerRequest,
    /// `execute` with `Recording::Off`: the runner alone; informational.
    RunnerOnly,
    /// The results writer alone, fed pre-built results of real runs, on SQLite;
    /// informational.
    WriterSqlite,
    /// `execute` with `Recording::Queued` on a fresh SQLite file.
    Sqlite,
    /// The same with `verify_tls: false` on the step: the runner's client is then built
    /// without loading the system's CA certificates; informational.
    SqliteUnverified,
    /// The results writer alone on PostgreSQL; informational.
    WriterPostgres,
    /// `execute` with `Recording::Queued` on a fresh PostgreSQL database.
    Postgres,
}

impl Method {
    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Method::Baseline => "baseline: load loop, shared client",
            Method::ConnectionPerRequest => "load loop, new connection per request",
            Method::ClientPerRequest => "load loop, new client per request",
            Method::RunnerOnly => "wfmon execute, recording off",
            Method::WriterSqlite => "ResultWriter alone, SQLite",
            Method::Sqlite => "wfmon execute + record, SQLite",
            Method::SqliteUnverified => "same, step with verify_tls: false",
            Method::WriterPostgres => "ResultWriter alone, PostgreSQL",
            Method::Postgres => "wfmon execute + record, PostgreSQL",
        }
    }

    /// Whether this is wfmon's full path, executed and persisted (the targets' subject).
    pub fn records(self) -> bool {
        matches!(self, Method::Sqlite | Method::Postgres)
    }
}

/// What one measurement did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measured {
    /// How.
    pub method: Method,
    /// Checks sent.
    pub checks: usize,
    /// Checks counted: passed, and for the recorded methods PASSED in the database.
    pub counted: usize,
    /// Checks that failed (a target or client error).
    pub failed: usize,
    /// Results the writer refused or could not write (recorded methods).
    pub lost: u64,
    /// Rows in the database per counted check (execution, step results, metrics).
    pub rows_per_check: Option<f64>,
    /// Wall-clock time, from the first request to the last result written.
    pub seconds: f64,
    /// The whole process's CPU time (user + system) over `seconds`.
    #[serde(skip)]
    pub cpu: Duration,
    /// The target server's share of `cpu`.
    #[serde(skip)]
    pub target_cpu: Duration,
    /// The first failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// How much one measurement sends: until `checks` are sent or `duration` has passed,
/// whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most checks.
    pub checks: usize,
    /// Longest time sending.
    pub duration: Duration,
}

/// Hands out checks to the workers until the budget is spent.
struct Dispenser {
    next: AtomicUsize,
    checks: usize,
    deadline: Instant,
}

impl Dispenser {
    fn new(budget: Budget) -> Arc<Dispenser> {
        Arc::new(Dispenser {
            next: AtomicUsize::new(0),
            checks: budget.checks,
            deadline: Instant::now() + budget.duration,
        })
    }

    /// Whether one more check may be sent.
    fn take(&self) -> bool {
        Instant::now() < self.deadline && self.next.fetch_add(1, Ordering::Relaxed) < self.checks
    }
}

/// What the workers of one measurement counted.
#[derive(Debug, Default)]
struct Counts {
    sent: usize,
    passed: usize,
    failed: usize,
    first_error: Option<String>,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.sent += other.sent;
        self.passed += other.passed;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn fail(&mut self, error: String) {
        self.failed += 1;
        self.first_error.get_or_insert(error);
    }
}

/// Times `work`: wall clock, the process's CPU time and the target's CPU time.
async fn timed<T>(
    target: &Target,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<(T, f64, Duration, Duration), Failure> {
    let (cpu_before, target_before) = (cpu::process(), target.cpu());
    let start = Instant::now();
    let value = work.await?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((
        value,
        seconds,
        cpu::process().saturating_sub(cpu_before),
        target.cpu().saturating_sub(target_before),
    ))
}

/// The plain load loop: GETs of the target on `workers` tasks, each read to the end and
/// checked for status 200, with the client the method says.
pub async fn load_loop(
    method: Method,
    target: &Target,
    budget: Budget,
    workers: usize,
) -> Result<Measured, Failure> {
    let url: Arc<str> = format!("{}/", target.base_url).into();
    let shared =
        runner_like_client(method == Method::ConnectionPerRequest, true).map_err(Failure::new)?;
    let work = async {
        let dispenser = Dispenser::new(budget);
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (dispenser, url, shared) = (dispenser.clone(), url.clone(), shared.clone());
            tasks.spawn(async move {
                let mut counts = Counts::default();
                while dispenser.take() {
                    counts.sent += 1;
                    let client = if method == Method::ClientPerRequest {
                        match runner_like_client(false, true) {
                            Ok(client) => client,
                            Err(e) => {
                                counts.fail(e);
                                continue;
                            }
                        }
                    } else {
                        shared.clone()
                    };
                    match get(&client, &url).await {
                        Ok(()) => counts.passed += 1,
                        Err(e) => counts.fail(e),
                    }
                }
                counts
            });
        }
        joined(tasks).await
    };
    let (counts, seconds, cpu, target_cpu) = timed(target, work).await?;
    Ok(Measured {
        method,
        checks: counts.sent,
        counted: counts.passed,
        failed: counts.failed,
        lost: 0,
        rows_per_check: None,
        seconds,
        cpu,
        target_cpu,
        first_error: counts.first_error,
    })
}

/// A client built as the runner builds one for a run (`runner/http.rs`: its own cookie jar,
/// up to 10 redirects, TLS info kept, wfmon's user agent), certificates verified if
/// `verify_tls`; with `no_idle`, it keeps no idle connection, so every request opens a new one.
fn runner_like_client(no_idle: bool, verify_tls: bool) -> Result<reqwest::Client, String> {
    let builder = if no_idle {
        reqwest::Client::builder().pool_max_idle_per_host(0)
    } else {
        reqwest::Client::builder()
    };
    builder
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::limited(10))
        .tls_danger_accept_invalid_certs(!verify_tls)
        .tls_info(true)
        .user_agent(concat!("wfmon/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().await.map_err(|e| e.to_string())?;
    if status == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// `execute` without recording: the runner's own cost.
pub async fn runner_only(
    config: &Arc<Config>,
    target: &Target,
    budget: Budget,
    workers: usize,
) -> Result<Measured, Failure> {
    let (counts, seconds, cpu, target_cpu) =
        timed(target, execute_loop(config, None, budget, workers)).await?;
    Ok(Measured {
        method: Method::RunnerOnly,
        checks: counts.sent,
        counted: counts.passed,
        failed: counts.failed,
        lost: 0,
        rows_per_check: None,
        seconds,
        cpu,
        target_cpu,
        first_error: counts.first_error,
    })
}

/// `execute` with every result queued on a `ResultWriter` over a fresh, migrated database at
/// `url`; timed until the writer has written everything.
pub async fn recorded(
    method: Method,
    url: &DatabaseUrl,
    config: &Arc<Config>,
    target: &Target,
    budget: Budget,
    workers: usize,
) -> Result<Measured, Failure> {
    let store = Store::open(url, OpenMode::Create).await?;
    let (writer, writer_task) = ResultWriter::start(store.clone(), config.scheduler.buffer);
    let work = async {
        let counts = execute_loop(config, Some(writer.clone()), budget, workers).await?;
        writer.flush().await;
        Ok(counts)
    };
    let timing = timed(target, work).await;
    let left = writer.close(Duration::from_secs(30)).await;
    let _ = writer_task.await;
    let (counts, seconds, cpu, target_cpu) = timing?;
    let stats = writer.stats();
    let (counted, rows_per_check) = persisted(&store, method, counts.passed).await?;
    store.close().await;
    Ok(Measured {
        method,
        checks: counts.sent,
        counted,
        failed: counts.failed,
        lost: stats.overflowed + stats.failed + left,
        rows_per_check,
        seconds,
        cpu,
        target_cpu,
        first_error: counts.first_error,
    })
}

/// The PASSED executions in the database (at most `passed`, the checks that passed), and the
/// rows per such execution.
async fn persisted(
    store: &Store,
    method: Method,
    passed: usize,
) -> Result<(usize, Option<f64>), Failure> {
    let summary = store.status_summary(None).await?;
    let executions: i64 = summary.iter().map(|s| s.count).sum();
    let in_database: i64 = summary
        .iter()
        .filter(|s| s.status == ExecutionStatus::Passed)
        .map(|s| s.count)
        .sum();
    let steps = store.count::<WorkflowStepResult>().await?;
    let metrics = store.count::<WorkflowMetric>().await?;
    let counted = usize::try_from(in_database).unwrap_or_default();
    if counted > passed {
        return Err(Failure::new(format!(
            "{}: {counted} PASSED executions in the database, but only {passed} checks passed",
            method.label(),
        )));
    }
    let rows = (counted > 0).then(|| (executions + steps + metrics) as f64 / counted as f64);
    Ok((counted, rows))
}

/// The results writer alone: `checks` results of a real run (each a RUNNING row, then the
/// finished execution with its step and metrics, as `execute` queues them), built before the
/// clock starts, queued at once and timed until written.
pub async fn writer_only(
    method: Method,
    url: &DatabaseUrl,
    config: &Arc<Config>,
    target: &Target,
    checks: usize,
) -> Result<Measured, Failure> {
    let workflow = &config.workflows[0];
    let environment = &config.environments[ENVIRONMENT];
    let (attempts, _) = execute(
        config,
        workflow,
        environment,
        identity(workflow.name.clone(), environment.name.clone()),
        Recording::Off,
        &NoObserver,
        None,
    )
    .await;
    let outcome = attempts
        .last()
        .map(|a| a.outcome.clone())
        .filter(|o| o.status == ExecutionStatus::Passed)
        .ok_or_else(|| Failure::new("the check to copy results from did not pass"))?;
    let jobs: Vec<WriteJob> = (0..checks)
        .flat_map(|_| {
            let identity = identity(workflow.name.clone(), environment.name.clone());
            let started = identity.started_row(outcome.started_at);
            let record = record_of(&identity, workflow, &outcome, AttemptFate::Final);
            [
                WriteJob::Started(Box::new(started)),
                WriteJob::Finished(Box::new(record), None),
            ]
        })
        .collect();
    let store = Store::open(url, OpenMode::Create).await?;
    // Room for every job: the measurement is the writing, not the queue's bound.
    let (writer, writer_task) = ResultWriter::start(store.clone(), jobs.len().max(1));
    let work = async {
        for job in jobs {
            writer.send(job);
        }
        writer.flush().await;
        Ok(())
    };
    let timing = timed(target, work).await;
    let left = writer.close(Duration::from_secs(30)).await;
    let _ = writer_task.await;
    let ((), seconds, cpu, target_cpu) = timing?;
    let stats = writer.stats();
    let (counted, rows_per_check) = persisted(&store, method, checks).await?;
    store.close().await;
    Ok(Measured {
        method,
        checks,
        counted,
        failed: 0,
        lost: stats.overflowed + stats.failed + left,
        rows_per_check,
        seconds,
        cpu,
        target_cpu,
        first_error: None,
    })
}

/// `checks` runs of the configuration's one workflow through `executor::execute` on
/// `workers` tasks, queued on `writer` if given.
async fn execute_loop(
    config: &Arc<Config>,
    writer: Option<ResultWriter>,
    budget: Budget,
    workers: usize,
) -> Result<Counts, Failure> {
    let dispenser = Dispenser::new(budget);
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (dispenser, config, writer) = (dispenser.clone(), config.clone(), writer.clone());
        tasks.spawn(async move {
            let workflow = &config.workflows[0];
            let environment = &config.environments[ENVIRONMENT];
            let no_tally = |_: bool| None;
            let mut counts = Counts::default();
            while dispenser.take() {
                counts.sent += 1;
                let identity = identity(workflow.name.clone(), environment.name.clone());
                let recording = match &writer {
                    Some(writer) => Recording::Queued(writer, &no_tally),
                    None => Recording::Off,
                };
                let (attempts, _) = execute(
                    &config,
                    workflow,
                    environment,
                    identity,
                    recording,
                    &NoObserver,
                    None,
                )
                .await;
                match attempts.last().map(|a| &a.outcome) {
                    Some(o) if o.status == ExecutionStatus::Passed => counts.passed += 1,
                    Some(o) => counts.fail(format!(
                        "{}: {}",
                        o.status.as_str(),
                        o.error.as_deref().unwrap_or("no error message")
                    )),
                    None => counts.fail("no attempt".to_owned()),
                }
            }
            counts
        });
    }
    joined(tasks).await
}

/// A manual first attempt with a new run id.
fn identity(workflow: String, environment: String) -> RunIdentity {
    RunIdentity {
        run_id: new_id("run"),
        workflow,
        environment,
        triggered_by: TriggeredBy::Manual,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: "wfmon-bench".to_owned(),
        due_at: None,
    }
}

async fn joined(mut tasks: JoinSet<Counts>) -> Result<Counts, Failure> {
    let mut total = Counts::default();
    while let Some(done) = tasks.join_next().await {
        total.add(done.map_err(|e| Failure::new(format!("a benchmark worker failed: {e}")))?);
    }
    Ok(total)
}

/// Mean CPU time of building the runner's reqwest client, over `n` builds.
pub fn client_build_cost(n: u32, verify_tls: bool) -> Result<Duration, Failure> {
    let clock = cpu::current_thread_clock()
        .ok_or_else(|| Failure::new("cannot read this thread's CPU clock"))?;
    let before = cpu::thread(clock);
    for _ in 0..n {
        drop(runner_like_client(false, verify_tls).map_err(Failure::new)?);
    }
    Ok((cpu::thread(clock) - before) / n.max(1))
}
