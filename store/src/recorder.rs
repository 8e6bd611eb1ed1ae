//! The recorder's write: a batch of finished executions, each with its step results, metrics
//! and health checks, and the rollups they change, in one transaction (all of it is stored,
//! or none of it).

use wfmon_model::{SystemHealthCheck, WorkflowExecution, WorkflowMetric, WorkflowStepResult};

use crate::records::{OnConflict, begin_write, insert_rows};
use crate::rollups;
use crate::schedules::{ScheduleTally, tally};
use crate::{Store, StoreError};

/// One execution with everything recorded with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// The execution row (it may already exist as RUNNING; it is then completed).
    pub execution: WorkflowExecution,
    /// Its steps, in order.
    pub steps: Vec<WorkflowStepResult>,
    /// Its metrics.
    pub metrics: Vec<WorkflowMetric>,
    /// Its health probes.
    pub health_checks: Vec<SystemHealthCheck>,
}

impl Store {
    /// Writes the row of a run that has just started (status RUNNING), so that a crash
    /// leaves a trace.
    pub async fn start_execution(&self, execution: &WorkflowExecution) -> Result<(), StoreError> {
        self.insert(std::slice::from_ref(execution)).await.map(drop)
    }

    /// Records finished executions and all their rows in one transaction.
    pub async fn record_executions(&self, batch: &[ExecutionRecord]) -> Result<(), StoreError> {
        let batch: Vec<&ExecutionRecord> = batch.iter().collect();
        self.write_results(&[], &batch, &[]).await
    }

    /// The daemon's write, in one transaction: rows of runs that started (an execution that
    /// already exists is left as it is), finished executions with all their rows (completing
    /// their RUNNING row), the rollups of the runs among them (see `rollups`), and the
    /// schedule counts of finished scheduled runs.
    pub async fn write_results(
        &self,
        started: &[&WorkflowExecution],
        batch: &[&ExecutionRecord],
        tallies: &[&ScheduleTally],
    ) -> Result<(), StoreError> {
        if started.is_empty() && batch.is_empty() && tallies.is_empty() {
            return Ok(());
        }
        let executions: Vec<&WorkflowExecution> = batch.iter().map(|r| &r.execution).collect();
        let steps: Vec<&WorkflowStepResult> = batch.iter().flat_map(|r| &r.steps).collect();
        let metrics: Vec<&WorkflowMetric> = batch.iter().flat_map(|r| &r.metrics).collect();
        let checks: Vec<&SystemHealthCheck> = batch.iter().flat_map(|r| &r.health_checks).collect();
        let written: Vec<(&WorkflowExecution, bool)> = started
            .iter()
            .map(|e| (*e, false))
            .chain(executions.iter().map(|e| (*e, true)))
            .collect();
        let run_ids: Vec<&str> = written.iter().map(|(e, _)| e.run_id.as_str()).collect();
        let context = format!("recording {} execution(s)", batch.len().max(started.len()));
        dispatch!(self, pool, Db => {
            let result: Result<(), sqlx::Error> = async {
                let mut tx = pool.begin_with(begin_write::<Db>()).await?;
                let previous = rollups::read_previous::<Db>(&mut tx, &run_ids).await?;
                insert_rows::<Db, _>(&mut tx, started, OnConflict::Ignore).await?;
                insert_rows::<Db, _>(&mut tx, &executions, OnConflict::Update).await?;
                rollups::apply::<Db>(&mut tx, &rollups::changes(&previous, &written)).await?;
                insert_rows::<Db, _>(&mut tx, &steps, OnConflict::Fail).await?;
                insert_rows::<Db, _>(&mut tx, &metrics, OnConflict::Fail).await?;
                insert_rows::<Db, _>(&mut tx, &checks, OnConflict::Fail).await?;
                tally::<Db>(&mut tx, tallies, &previous).await?;
                tx.commit().await
            }
            .await;
            result.map_err(StoreError::query(context))
        })
    }
}
