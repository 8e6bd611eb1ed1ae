//! The scheduler's shared state: `workflow_schedules` rows, one per workflow and environment.
//!
//! Instances share due runs without a leader. A run is claimed by writing a lease
//! (`lease_owner`, `lease_expires_at`) on its schedule row in one UPDATE that only matches
//! rows nobody holds; the holder advances `next_run_at`, renews its leases while it runs, and
//! releases the lease in the transaction that records the run's result and counts it
//! (`run_count = success_count + failure_count`). A lease that is not renewed expires, and
//! the schedule is claimed by another instance.

use sqlx::{AssertSqlSafe, QueryBuilder};
use wfmon_model::{ExecutionStatus, Json, Timestamp, WorkflowSchedule, new_id};

use crate::records::{OnConflict, begin_write, insert_rows, select_sql};
use crate::rollups;
use crate::{Store, StoreError};

mod tally;
pub(crate) use tally::tally;

/// A schedule as the configuration defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// Stable key: the same workflow and environment always give the same id.
    pub schedule_id: String,
    /// Workflow name.
    pub workflow_name: String,
    /// Environment name.
    pub environment: String,
    /// Cron expression as written.
    pub cron_expression: String,
    /// IANA time zone of the expression.
    pub timezone: String,
    /// Description of the workflow.
    pub description: Option<String>,
    /// Tags of the workflow.
    pub tags: Option<Json>,
    /// The first due time, used when the row is new or its expression changed.
    pub next_run_at: Option<Timestamp>,
}

/// What `sync_schedules` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Rows created.
    pub added: usize,
    /// Rows whose definition changed.
    pub updated: usize,
    /// Rows no longer in the configuration, now disabled (kept with their counts).
    pub disabled: usize,
    /// Rows already as configured.
    pub unchanged: usize,
}

/// A due run this instance now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRun {
    /// The schedule.
    pub schedule_id: String,
    /// Its workflow.
    pub workflow_name: String,
    /// Its environment.
    pub environment: String,
    /// The due time that was claimed.
    pub due_at: Timestamp,
}

/// Moves a held schedule to its next due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// The schedule.
    pub schedule_id: String,
    /// When its run started (None: leave `last_run_at` as it is, e.g. for a skipped run).
    pub last_run_at: Option<Timestamp>,
    /// Its next due time.
    pub next_run_at: Option<Timestamp>,
}

/// The end of a scheduled run, counted in the transaction that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTally {
    /// The schedule.
    pub schedule_id: String,
    /// The execution whose result this counts. If its row was already final before the
    /// write (closed as ABORTED by a sweep, which counted it as a failure, or a batch written
    /// twice), the run is not counted again: its success and failure counts move by the
    /// change of outcome instead. None: always counted.
    pub run_id: Option<String>,
    /// The instance that ran it; its lease is released.
    pub owner: String,
    /// Whether the run succeeded (PASSED or WARNING).
    pub passed: bool,
    /// The holder's next due time, written if it still holds the lease and it is later than
    /// the one stored.
    pub next_run_at: Option<Timestamp>,
}

/// An execution still marked RUNNING, with the lease of its schedule.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunningExecution {
    /// Run id.
    pub run_id: String,
    /// Workflow.
    pub workflow_name: String,
    /// Environment.
    pub environment: String,
    /// Start.
    pub started_at: Timestamp,
    /// Schedule that made it due, if any.
    pub schedule_id: Option<String>,
    /// Instance that runs it.
    pub instance_id: Option<String>,
    /// Current holder of the schedule's lease.
    pub lease_owner: Option<String>,
    /// When that lease expires.
    pub lease_expires_at: Option<Timestamp>,
}

/// Serialises `sync_schedules` of instances starting together on PostgreSQL.
const SYNC_LOCK_KEY: i64 = 0x7766_6d6f_6e5f_7363; // "wfmon_sc"

impl Store {
    /// Pauses (or resumes) a schedule: a paused one is not run, and stays paused across
    /// restarts and configuration reloads until resumed. Who and when are kept in its
    /// metadata (`pausedBy`, `pausedAt`, `resumedBy`, `resumedAt`). A resumed schedule is
    /// next due at `next_run_at`. Returns the row, or None if there is no such schedule.
    pub async fn set_paused(
        &self,
        schedule_id: &str,
        paused: bool,
        by: &str,
        next_run_at: Option<Timestamp>,
    ) -> Result<Option<WorkflowSchedule>, StoreError> {
        let Some(row) = self.get::<WorkflowSchedule>(schedule_id).await? else {
            return Ok(None);
        };
        let mut metadata = match row.metadata.as_ref().map(|m| m.0.clone()) {
            Some(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let now = Timestamp::now().to_string();
        if paused {
            metadata.insert("paused".into(), serde_json::Value::Bool(true));
            metadata.insert("pausedBy".into(), by.into());
            metadata.insert("pausedAt".into(), now.into());
        } else {
            metadata.remove("paused");
            metadata.insert("resumedBy".into(), by.into());
            metadata.insert("resumedAt".into(), now.into());
        }
        let next = if paused { row.next_run_at } else { next_run_at };
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE workflow_schedules SET enabled = $1, metadata = $2, next_run_at = $3 \
                 WHERE schedule_id = $4",
            )
            .bind(!paused)
            .bind(wfmon_model::json(serde_json::Value::Object(metadata)))
            .bind(next)
            .bind(schedule_id)
            .execute(pool)
            .await
            .map(drop)
            .map_err(StoreError::query("pausing a schedule"))
        })?;
        self.get::<WorkflowSchedule>(schedule_id).await
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> bool {
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>("SELECT 1").execute(pool).await.is_ok()
        })
    }

    /// Every schedule row, by workflow then environment.
    pub async fn schedules(&self) -> Result<Vec<WorkflowSchedule>, StoreError> {
        let sql = format!(
            "{} ORDER BY workflow_name, environment",
            select_sql::<WorkflowSchedule>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, WorkflowSchedule>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing schedules"))
        })
    }

    /// Makes the schedule rows match the configuration, in one transaction: new schedules
    /// are created, changed ones updated (a new expression or time zone resets the next due
    /// time), and rows no longer configured are disabled. Counts, last run and leases are
    /// kept.
    pub async fn sync_schedules(&self, specs: &[ScheduleSpec]) -> Result<SyncReport, StoreError> {
        let select = select_sql::<WorkflowSchedule>();
        dispatch!(self, pool, Db => {
            let result: Result<SyncReport, sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                if self.backend() == crate::Backend::Postgres {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(SYNC_LOCK_KEY)
                        .execute(&mut *tx)
                        .await?;
                }
                let existing: Vec<WorkflowSchedule> =
                    sqlx::query_as(AssertSqlSafe(select.clone())).fetch_all(&mut *tx).await?;
                // Looked up by id: a configuration may hold thousands of schedules.
                let by_id: std::collections::HashMap<&str, &WorkflowSchedule> =
                    existing.iter().map(|r| (r.schedule_id.as_str(), r)).collect();
                let configured: std::collections::HashSet<&str> =
                    specs.iter().map(|s| s.schedule_id.as_str()).collect();
                let mut report = SyncReport::default();
                let mut new_rows = Vec::new();
                let now = Timestamp::now();
                for spec in specs {
                    let Some(row) = by_id.get(spec.schedule_id.as_str()).copied()
                    else {
                        new_rows.push(new_row(spec, now));
                        continue;
                    };
                    let paused = is_paused(row);
                    let timing_changed = row.cron_expression != spec.cron_expression
                        || row.timezone != spec.timezone
                        || (!row.enabled && !paused)
                        || row.next_run_at.is_none();
                    let changed = timing_changed
                        || row.workflow_name != spec.workflow_name
                        || row.environment != spec.environment
                        || row.description != spec.description
                        || row.tags != spec.tags;
                    if !changed {
                        report.unchanged += 1;
                        continue;
                    }
                    let next = if timing_changed { spec.next_run_at } else { row.next_run_at };
                    sqlx::query(
                        "UPDATE workflow_schedules SET workflow_name = $1, environment = $2, \
                         cron_expression = $3, timezone = $4, description = $5, tags = $6, \
                         next_run_at = $7, enabled = $8 WHERE schedule_id = $9",
                    )
                    .bind(&spec.workflow_name)
                    .bind(&spec.environment)
                    .bind(&spec.cron_expression)
                    .bind(&spec.timezone)
                    .bind(&spec.description)
                    .bind(&spec.tags)
                    .bind(next)
                    .bind(!paused)
                    .bind(&spec.schedule_id)
                    .execute(&mut *tx)
                    .await?;
                    report.updated += 1;
                }
                for row in &existing {
                    if row.enabled && !configured.contains(row.schedule_id.as_str()) {
                        sqlx::query("UPDATE workflow_schedules SET enabled = $1 WHERE schedule_id = $2")
                            .bind(false)
                            .bind(&row.schedule_id)
                            .execute(&mut *tx)
                            .await?;
                        report.disabled += 1;
                    }
                }
                let refs: Vec<&WorkflowSchedule> = new_rows.iter().collect();
                insert_rows::<Db, _>(&mut tx, &refs, OnConflict::Fail).await?;
                report.added = new_rows.len();
                tx.commit().await?;
                Ok(report)
            }
            .await;
            result.map_err(StoreError::query("updating schedules from the configuration"))
        })
    }

    /// Claims up to `limit` enabled schedules due by `due_by` that nobody holds (or whose
    /// lease expired before `now`), in one statement: each due run is claimed by one
    /// instance only. The caller must then advance them (`advance_schedules`).
    pub async fn claim_due(
        &self,
        owner: &str,
        due_by: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE workflow_schedules SET lease_owner = $1, lease_expires_at = $2 \
             WHERE schedule_id IN (SELECT schedule_id FROM workflow_schedules \
                 WHERE enabled AND next_run_at <= $3 \
                   AND (lease_owner IS NULL OR lease_expires_at < $4) \
                 ORDER BY next_run_at LIMIT {limit}{lock}) \
             RETURNING schedule_id, workflow_name, environment, next_run_at"
        );
        dispatch!(self, pool, Db => {
            let rows: Vec<(String, String, String, Timestamp)> =
                sqlx::query_as::<Db, _>(AssertSqlSafe(sql))
                    .bind(owner)
                    .bind(lease_until)
                    .bind(due_by)
                    .bind(now)
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query("claiming due runs"))?;
            let mut claims: Vec<ClaimedRun> = rows
                .into_iter()
                .map(|(schedule_id, workflow_name, environment, due_at)| ClaimedRun {
                    schedule_id,
                    workflow_name,
                    environment,
                    due_at,
                })
                .collect();
            claims.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.schedule_id.cmp(&b.schedule_id)));
            Ok(claims)
        })
    }

    /// The earliest due time of an enabled schedule nobody holds at `now`.
    pub async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, Option<Timestamp>>(
                "SELECT MIN(next_run_at) FROM workflow_schedules \
                 WHERE enabled AND (lease_owner IS NULL OR lease_expires_at < $1)",
            )
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(StoreError::query("reading the next due run"))
        })
    }

    /// Moves schedules `owner` holds to their next due time, in one statement per thousand,
    /// never back (a late call does not undo a later one). Rows another instance holds are
    /// left alone. Returns the rows changed.
    pub async fn advance_schedules(
        &self,
        owner: &str,
        advances: &[Advance],
    ) -> Result<u64, StoreError> {
        let mut changed = 0;
        dispatch!(self, pool, Db => {
            let result: Result<(), sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                for chunk in advances.chunks(1000) {
                    let mut q = QueryBuilder::<Db>::new(
                        "UPDATE workflow_schedules SET next_run_at = v.column2, \
                         last_run_at = COALESCE(v.column3, workflow_schedules.last_run_at) FROM (",
                    );
                    q.push_values(chunk, |mut row, a| {
                        row.push_bind(a.schedule_id.as_str())
                            .push_bind(a.next_run_at)
                            .push_bind(a.last_run_at);
                    });
                    q.push(") AS v WHERE workflow_schedules.schedule_id = v.column1 \
                            AND (v.column2 IS NULL OR workflow_schedules.next_run_at IS NULL \
                                 OR workflow_schedules.next_run_at < v.column2) \
                            AND workflow_schedules.lease_owner = ");
                    q.push_bind(owner);
                    changed += q.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await
            }
            .await;
            result.map_err(StoreError::query("advancing schedules"))
        })?;
        Ok(changed)
    }

    /// Makes every enabled schedule nobody holds due at `at` (a first run of everything
    /// now, as `wfmon demo` does). Returns the schedules changed.
    pub async fn make_due(&self, at: Timestamp) -> Result<u64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE workflow_schedules SET next_run_at = $1 WHERE enabled AND lease_owner IS NULL",
            )
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query("making schedules due"))
        })
    }

    /// Moves schedules forward to the given due times, never back, whoever holds them (after
    /// an outage, the due times an instance kept on its own clock). Returns the rows changed.
    pub async fn forward_schedules(&self, next: &[(String, Timestamp)]) -> Result<u64, StoreError> {
        let mut changed = 0;
        dispatch!(self, pool, Db => {
            let result: Result<(), sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                for chunk in next.chunks(1000) {
                    let mut q = QueryBuilder::<Db>::new(
                        "UPDATE workflow_schedules SET next_run_at = v.column2 FROM (",
                    );
                    q.push_values(chunk, |mut row, (id, at)| {
                        row.push_bind(id.as_str()).push_bind(*at);
                    });
                    q.push(") AS v WHERE workflow_schedules.schedule_id = v.column1 \
                            AND (workflow_schedules.next_run_at IS NULL \
                                 OR workflow_schedules.next_run_at < v.column2)");
                    changed += q.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await
            }
            .await;
            result.map_err(StoreError::query("moving schedules forward"))
        })?;
        Ok(changed)
    }

    /// Extends the leases `owner` holds on `schedule_ids` to `until`, in one statement per
    /// thousand; its other leases are left to expire. Returns the leases renewed.
    pub async fn renew_leases(
        &self,
        owner: &str,
        schedule_ids: &[String],
        until: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut renewed = 0;
        dispatch!(self, pool, Db => {
            let result: Result<(), sqlx::Error> = async {
                for chunk in schedule_ids.chunks(1000) {
                    let mut q = QueryBuilder::<Db>::new(
                        "UPDATE workflow_schedules SET lease_expires_at = ",
                    );
                    q.push_bind(until);
                    q.push(" WHERE lease_owner = ");
                    q.push_bind(owner);
                    q.push(" AND schedule_id IN (");
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(id.as_str());
                    }
                    q.push(")");
                    renewed += q.build().execute(pool).await?.rows_affected();
                }
                Ok(())
            }
            .await;
            result.map_err(StoreError::query("renewing leases"))
        })?;
        Ok(renewed)
    }

    /// Releases every lease `owner` holds (at shutdown, or for an instance known dead).
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE workflow_schedules SET lease_owner = NULL, lease_expires_at = NULL \
                 WHERE lease_owner = $1",
            )
            .bind(owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(StoreError::query("releasing leases"))
        })
    }

    /// The distinct holders of leases.
    pub async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_scalar::<Db, String>(
                "SELECT DISTINCT lease_owner FROM workflow_schedules WHERE lease_owner IS NOT NULL",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::query("listing lease holders"))
        })
    }

    /// Executions still RUNNING, with the lease of their schedule.
    pub async fn running_executions(&self) -> Result<Vec<RunningExecution>, StoreError> {
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, RunningExecution>(
                "SELECT e.run_id, e.workflow_name, e.environment, e.started_at, e.schedule_id, \
                        e.instance_id, s.lease_owner, s.lease_expires_at \
                 FROM workflow_executions e \
                 LEFT JOIN workflow_schedules s ON s.schedule_id = e.schedule_id \
                 WHERE e.status = 'RUNNING' ORDER BY e.started_at, e.run_id",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::query("listing running executions"))
        })
    }

    /// Closes RUNNING executions as ABORTED with `reason`, in one transaction with the
    /// rollups they now count in and, for scheduled runs, their schedule's counts (a failure,
    /// as for a run aborted by a graceful stop; leases are left as they are); executions that
    /// have ended meanwhile are left alone. Returns how many were closed.
    pub async fn abort_executions(
        &self,
        runs: &[RunningExecution],
        reason: &str,
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut closed = 0;
        dispatch!(self, pool, Db => {
            let result: Result<(), sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let mut changes = Vec::new();
                let mut failed: std::collections::BTreeMap<&str, i64> = Default::default();
                for run in runs {
                    let duration = (at.unix_millis() - run.started_at.unix_millis()).max(0);
                    let duration = i32::try_from(duration).unwrap_or(i32::MAX);
                    let done = sqlx::query::<Db>(
                        "UPDATE workflow_executions SET status = 'ABORTED', completed_at = $1, \
                         duration_ms = $2, error_message = $3 \
                         WHERE run_id = $4 AND status = 'RUNNING'",
                    )
                    .bind(at)
                    .bind(duration)
                    .bind(reason)
                    .bind(&run.run_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if done > 0 {
                        if let Some(schedule) = &run.schedule_id {
                            *failed.entry(schedule.as_str()).or_default() += 1;
                        }
                        changes.push(rollups::RunChange {
                            before: None,
                            after: rollups::RunFacts {
                                run_id: run.run_id.clone(),
                                workflow_name: run.workflow_name.clone(),
                                environment: run.environment.clone(),
                                started_at: run.started_at,
                                status: ExecutionStatus::Aborted,
                                duration_ms: Some(duration),
                            },
                        });
                    }
                    closed += done;
                }
                rollups::apply::<Db>(&mut tx, &changes).await?;
                for (schedule, n) in failed {
                    sqlx::query::<Db>(
                        "UPDATE workflow_schedules SET run_count = run_count + $1, \
                         failure_count = failure_count + $1 WHERE schedule_id = $2",
                    )
                    .bind(n)
                    .bind(schedule)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            }
            .await;
            result.map_err(StoreError::query("closing interrupted executions"))
        })?;
        Ok(closed)
    }
}

/// Whether a schedule was paused by a person (`set_paused`), not disabled by the
/// configuration.
pub fn is_paused(row: &WorkflowSchedule) -> bool {
    row.metadata
        .as_ref()
        .and_then(|m| m.0.get("paused"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

fn new_row(spec: &ScheduleSpec, now: Timestamp) -> WorkflowSchedule {
    WorkflowSchedule {
        id: new_id("sch"),
        schedule_id: spec.schedule_id.clone(),
        workflow_name: spec.workflow_name.clone(),
        cron_expression: spec.cron_expression.clone(),
        enabled: true,
        last_run_at: None,
        next_run_at: spec.next_run_at,
        run_count: 0,
        failure_count: 0,
        success_count: 0,
        description: spec.description.clone(),
        tags: spec.tags.clone(),
        metadata: None,
        environment: spec.environment.clone(),
        timezone: spec.timezone.clone(),
        lease_owner: None,
        lease_expires_at: None,
        created_at: now,
        updated_at: now,
    }
}
