//! Closing runs that were left RUNNING by a process that is gone (a crash, `kill -9`, a lost
//! machine), as ABORTED with the reason, and releasing the claims of instances known dead.
//!
//! A RUNNING execution is interrupted when:
//! - its instance is this one and this process is starting: a previous start with the same
//!   configured `instance_id`;
//! - its instance is a process of this host that no longer exists;
//! - it was scheduled, and its schedule's lease is no longer held by its instance (the lease
//!   expired, or another instance holds it);
//! - it was not scheduled (`wfmon check`, API) and it started longer ago than its workflow's
//!   timeout and cleanup allow, plus a lease period.

use std::collections::BTreeSet;

use chrono::{TimeDelta, Utc};
use wfmon_model::Timestamp;
use wfmon_store::{RunningExecution, Store, StoreError};

use super::instance::{host_name, is_dead_local};
use crate::config::Config;

/// Closes interrupted runs and releases dead instances' claims. `me` is this instance; its
/// own runs are closed only `at_startup`. Returns how many runs were closed.
pub async fn sweep_interrupted(
    store: &Store,
    config: &Config,
    me: &str,
    at_startup: bool,
) -> Result<u64, StoreError> {
    let running = store.running_executions().await?;
    let owners = store.lease_owners().await?;
    let host = host_name();
    let now = Utc::now();
    let lease = TimeDelta::from_std(config.scheduler.lease).unwrap_or(TimeDelta::MAX);

    let dead: BTreeSet<String> = owners
        .iter()
        .map(String::as_str)
        .chain(running.iter().filter_map(|r| r.instance_id.as_deref()))
        .filter(|i| *i != me && is_dead_local(i, &host))
        .map(str::to_string)
        .collect();
    for owner in &dead {
        let released = store.release_leases(owner).await?;
        if released > 0 {
            tracing::warn!(
                "released {released} claim(s) of instance {owner}, which is no longer running"
            );
        }
    }
    if at_startup {
        let released = store.release_leases(me).await?;
        if released > 0 {
            tracing::warn!("released {released} claim(s) left by a previous start of {me}");
        }
    }

    let mut groups: Vec<(String, Vec<RunningExecution>)> = Vec::new();
    let mut add =
        |reason: String, run: RunningExecution| match groups.iter_mut().find(|(r, _)| *r == reason)
        {
            Some((_, runs)) => runs.push(run),
            None => groups.push((reason, vec![run])),
        };
    for run in running {
        let instance = run.instance_id.clone().unwrap_or_default();
        let started = run.started_at.as_datetime();
        if instance == me {
            if at_startup {
                add(
                    format!(
                        "aborted: left RUNNING by an earlier start of instance {me} (crash or kill)"
                    ),
                    run,
                );
            }
        } else if dead.contains(&instance) {
            add(
                format!(
                    "aborted: left RUNNING by instance {instance}, which is no longer running (crash or kill)"
                ),
                run,
            );
        } else if run.schedule_id.is_some() {
            let held = run.lease_owner.as_deref() == Some(instance.as_str())
                && run.lease_expires_at.is_some_and(|t| t.as_datetime() >= now);
            // A run's RUNNING row may be written a moment after its claim: give it a lease
            // period before judging.
            if !held && started + lease < now {
                add(
                    format!(
                        "aborted: {} stopped renewing its claim on this run (crash, kill or lost connection)",
                        who(&instance)
                    ),
                    run,
                );
            }
        } else {
            let limit = config
                .workflow(&run.workflow_name)
                .map(|w| {
                    let cleanup: std::time::Duration = w.cleanup.iter().map(|s| s.timeout).sum();
                    TimeDelta::from_std(w.timeout * w.retries.attempts.max(1) + cleanup)
                        .unwrap_or(TimeDelta::MAX)
                })
                .unwrap_or(TimeDelta::days(1));
            if started + limit + lease < now {
                add(
                    format!(
                        "aborted: still RUNNING long after its timeout; {} is gone",
                        who(&instance)
                    ),
                    run,
                );
            }
        }
    }
    let mut closed = 0;
    let at = Timestamp::now();
    for (reason, runs) in groups {
        let n = store.abort_executions(&runs, &reason, at).await?;
        if n > 0 {
            tracing::warn!("{n} interrupted run(s) closed as ABORTED: {reason}");
        }
        closed += n;
    }
    Ok(closed)
}

/// The instance that ran a run, as a message names it: rows written by other tools (or
/// adopted from an older layout) may have none.
fn who(instance: &str) -> String {
    if instance.is_empty() {
        "the instance that ran it (not recorded)".to_string()
    } else {
        format!("instance {instance}")
    }
}
