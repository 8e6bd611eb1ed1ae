//! The overview's "last 24 hours" kept between reads: the HOUR rollup rows of the window and
//! the latest run of each workflow and environment, brought up to date on each read by
//! what changed since the previous one, instead of read whole every time.
//!
//! A read scans the window's HOUR rows once (about 2,400 for 100 pairs, on the
//! `(bucket, bucket_start)` index) and sends back only the rows stamped (`updated_at`, set
//! on every write) since a minute before the previous read began, with the number of rows;
//! a row that comes back unchanged is ignored. The minute covers writes that committed
//! after the previous read although stamped before it (a transaction's length, and the
//! clocks of the instances that stamp rows). The latest run is looked up again only for
//! the pairs whose rows changed (a run that ends is counted in its hour's row) and for
//! pairs not looked up yet. Everything is read afresh when the window moves to the next
//! hour, when the number of rows differs from what is kept (a row was deleted by a rebuild
//! or a prune), and at least once a minute, which bounds what a change that escaped the
//! stamps (a run that ends more than 24 hours after it started, an execution deleted by
//! hand) can leave out of date.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use sqlx::AssertSqlSafe;
use wfmon_model::{RollupBucket, Timestamp};

use super::{RunStats, WorkflowStats};
use crate::records::read_json_rows;
use crate::rollups::{RollupTotals, RunFacts, SketchRow, sketch_rows_json};
use crate::{Store, StoreError};

/// How far before the previous read a row's stamp may be and still be read again.
const MARGIN: TimeDelta = TimeDelta::seconds(60);

/// The longest time between two reads of the whole window.
const FULL_EVERY: Duration = Duration::from_secs(60);

/// A workflow and an environment.
type Pair = (String, String);

/// What the overview keeps between its reads (one per server; reads take turns).
#[derive(Default)]
pub struct RecentFigures {
    kept: tokio::sync::Mutex<Option<Kept>>,
}

impl RecentFigures {
    /// Nothing kept yet: the first read reads everything.
    pub fn new() -> Self {
        Self::default()
    }
}

struct Kept {
    since: Timestamp,
    until: Timestamp,
    /// When the previous read began (this process's clock).
    read_at: Option<Timestamp>,
    /// When the window was last read whole.
    full_at: Instant,
    /// The HOUR rows with runs, by pair then bucket start.
    rows: BTreeMap<Pair, BTreeMap<Timestamp, RollupTotals>>,
    /// Per pair, its rows merged.
    stats: BTreeMap<Pair, RunStats>,
    /// Per pair looked up, its latest run (None: it never ran).
    latest: BTreeMap<Pair, Option<RunFacts>>,
}

impl Kept {
    fn new(since: Timestamp, until: Timestamp) -> Self {
        Kept {
            since,
            until,
            read_at: None,
            full_at: Instant::now(),
            rows: BTreeMap::new(),
            stats: BTreeMap::new(),
            latest: BTreeMap::new(),
        }
    }

    fn row_count(&self) -> usize {
        self.rows.values().map(BTreeMap::len).sum()
    }

    /// Takes in rows read; returns the pairs whose rows changed.
    fn apply(&mut self, rows: Vec<SketchRow>) -> Result<BTreeSet<Pair>, StoreError> {
        let mut changed = BTreeSet::new();
        for row in rows {
            let totals = row.readable_totals()?;
            let pair = (row.workflow_name, row.environment);
            let hours = self.rows.entry(pair.clone()).or_default();
            if hours.get(&row.bucket_start) != Some(&totals) {
                hours.insert(row.bucket_start, totals);
                changed.insert(pair);
            }
        }
        for pair in &changed {
            let mut total = RollupTotals::default();
            for hour in self.rows[pair].values() {
                total.merge(hour);
            }
            let stats = RunStats::new(total.runs, total.passed, total.sketch.quantile(0.95));
            self.stats.insert(pair.clone(), stats);
        }
        Ok(changed)
    }
}

impl Store {
    /// Runs of each workflow and environment whose HOUR rollups in `[since, until)` count
    /// any (by pair), and the latest run of each of those and of `pairs` (pairs that never
    /// ran left out), kept in `recent` between calls (see the module documentation).
    /// `since` and `until` must be on the hour.
    pub async fn recent_figures(
        &self,
        recent: &RecentFigures,
        since: Timestamp,
        until: Timestamp,
        pairs: &[Pair],
    ) -> Result<(Vec<WorkflowStats>, Vec<RunFacts>), StoreError> {
        let mut guard = recent.kept.lock().await;
        let read_at = Timestamp::now();
        // On any error the kept state is dropped (`take`), so the next read starts afresh.
        let mut kept = match guard.take() {
            Some(k) if k.since == since && k.until == until && k.full_at.elapsed() < FULL_EVERY => {
                k
            }
            _ => Kept::new(since, until),
        };
        let changed_after = kept.read_at.map(|at| at.minus(MARGIN));
        let (count, rows) = self.hour_rows(since, until, changed_after).await?;
        let mut changed = kept.apply(rows)?;
        if changed_after.is_some() && kept.row_count() != count {
            kept = Kept::new(since, until);
            let (_, rows) = self.hour_rows(since, until, None).await?;
            changed = kept.apply(rows)?;
        }
        let mut wanted: Vec<Pair> = pairs
            .iter()
            .chain(kept.stats.keys())
            .filter(|p| changed.contains(*p) || !kept.latest.contains_key(*p))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        if !wanted.is_empty() {
            let mut found: BTreeMap<Pair, RunFacts> = self
                .latest_runs(&wanted)
                .await?
                .into_iter()
                .map(|r| ((r.workflow_name.clone(), r.environment.clone()), r))
                .collect();
            for pair in wanted {
                let run = found.remove(&pair);
                kept.latest.insert(pair, run);
            }
        }
        kept.read_at = Some(read_at);
        let stats = kept
            .stats
            .iter()
            .map(|((workflow_name, environment), stats)| WorkflowStats {
                workflow_name: workflow_name.clone(),
                environment: environment.clone(),
                stats: *stats,
            })
            .collect();
        let shown: BTreeSet<&Pair> = pairs.iter().chain(kept.stats.keys()).collect();
        let latest = shown
            .into_iter()
            .filter_map(|p| kept.latest.get(p).cloned().flatten())
            .collect();
        *guard = Some(kept);
        Ok((stats, latest))
    }

    /// The number of HOUR rows with runs in `[since, until)`, and those of them stamped
    /// after `changed_after` (all of them without it), in one pass over the window.
    async fn hour_rows(
        &self,
        since: Timestamp,
        until: Timestamp,
        changed_after: Option<Timestamp>,
    ) -> Result<(usize, Vec<SketchRow>), StoreError> {
        let rows = sketch_rows_json(self.backend(), "FILTER (WHERE updated_at > $1)");
        let sql = format!(
            "SELECT COUNT(*), {rows} FROM workflow_rollups \
             WHERE bucket = $2 AND runs > 0 AND bucket_start >= $3 AND bucket_start < $4"
        );
        let after = changed_after.unwrap_or(Timestamp::from_unix_millis(0).expect("the epoch"));
        let (count, text): (i64, Option<String>) = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, (i64, Option<String>)>(AssertSqlSafe(sql))
                .bind(after)
                .bind(RollupBucket::Hour)
                .bind(since)
                .bind(until)
                .fetch_one(pool)
                .await
                .map_err(StoreError::query("reading the last hours' rollups"))?
        });
        let rows = read_json_rows(text, "reading the last hours' rollups")?;
        Ok((usize::try_from(count).unwrap_or(0), rows))
    }
}
