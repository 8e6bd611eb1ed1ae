//! `figures`: per workflow and environment over a window, the whole window and a series of
//! buckets, summed from the rollups. The window is covered by the widest rows that fit: DAY
//! rows for its whole UTC days, HOUR rows for the whole hours left at its edges, MINUTE rows
//! for the minutes left; a row is only used when it falls inside one point of the series
//! (days when the points are whole days from a midnight, hours when they are whole hours
//! from an hour, or when no series is asked for). A 30-day window thus reads about 30 DAY
//! rows and up to 48 HOUR and 120 MINUTE rows per workflow and environment. Uptime comes from
//! the same rows: each counts its minutes with runs and, of those, the minutes without a
//! failure.

use std::collections::BTreeMap;

use sqlx::QueryBuilder;
use wfmon_model::{RollupBucket, Timestamp};

use super::{AnalyticsWindow, FiguresPoint, MINUTE_MS, RunFigures, Uptime, WorkflowFigures, ratio};
use crate::records::read_json_rows;
use crate::rollups::{RollupTotals, SketchRow, bucket_millis, ceil_to, floor_to, sketch_rows_json};
use crate::{Store, StoreError};

/// Half-open ranges of bucket starts, in milliseconds since the epoch.
type Ranges = Vec<(i64, i64)>;

/// Which rows cover `[since, until)` (whole minutes): per bucket size, widest first, the
/// ranges of bucket starts to read. `fits(width)` tells whether rows of that width may be
/// used (each falls inside one point of the series).
fn plan(since: i64, until: i64, fits: impl Fn(i64) -> bool) -> Vec<(RollupBucket, Ranges)> {
    let mut left: Ranges = vec![(since, until)];
    let mut out = Vec::new();
    for bucket in [RollupBucket::Day, RollupBucket::Hour] {
        let width = bucket_millis(bucket);
        if !fits(width) {
            continue;
        }
        let mut whole = Ranges::new();
        let mut rest = Ranges::new();
        for (a, b) in left {
            let from = (a + width - 1).div_euclid(width) * width;
            let to = b.div_euclid(width) * width;
            if from < to {
                whole.push((from, to));
                rest.extend([(a, from), (to, b)].into_iter().filter(|(x, y)| x < y));
            } else {
                rest.push((a, b));
            }
        }
        if !whole.is_empty() {
            out.push((bucket, whole));
        }
        left = rest;
    }
    if !left.is_empty() {
        out.push((RollupBucket::Minute, left));
    }
    out
}

impl Store {
    /// Figures per workflow and environment that ran in the window: the whole window, and
    /// with `step_ms` (a whole number of minutes) one point per bucket of that size, counted
    /// from `since` (rounded down to the minute), the last one cut at `until`. Reads DAY
    /// rollups for whole UTC days when buckets are whole days from a midnight, HOUR rollups
    /// for whole hours when they are whole hours from an hour (either, when no series is
    /// asked for), MINUTE rollups for the rest.
    pub async fn figures(
        &self,
        window: &AnalyticsWindow,
        step_ms: Option<i64>,
    ) -> Result<Vec<WorkflowFigures>, StoreError> {
        Ok(self.figures_and_uptime(window, step_ms).await?.0)
    }

    /// `figures`, and the uptime of the same workflows and environments over the window,
    /// from one read of the rollups: one `Uptime` per `WorkflowFigures`, in the same order.
    pub async fn figures_and_uptime(
        &self,
        window: &AnalyticsWindow,
        step_ms: Option<i64>,
    ) -> Result<(Vec<WorkflowFigures>, Vec<Uptime>), StoreError> {
        let since = floor_to(window.since, MINUTE_MS);
        let until = ceil_to(window.until, MINUTE_MS);
        if until <= since {
            return Ok((Vec::new(), Vec::new()));
        }
        let span = until.unix_millis() - since.unix_millis();
        let step = step_ms.filter(|s| *s > 0).map_or(span, |s| {
            ceil_to(Timestamp::from_unix_millis(s).unwrap_or(since), MINUTE_MS)
                .unix_millis()
                .max(MINUTE_MS)
        });
        let single = step >= span;
        let start = since.unix_millis();
        let fits = |width: i64| single || (step % width == 0 && start % width == 0);
        let mut rows = Vec::new();
        for (bucket, ranges) in plan(start, until.unix_millis(), fits) {
            rows.extend(self.sketch_rows(window, bucket, &ranges).await?);
        }
        let buckets = if single { 1 } else { (span + step - 1) / step };
        let mut out: BTreeMap<(String, String), Vec<RollupTotals>> = BTreeMap::new();
        for row in rows {
            let index = ((row.bucket_start.unix_millis() - start) / step) as usize;
            let totals = row.readable_totals()?;
            let series = out
                .entry((row.workflow_name, row.environment))
                .or_insert_with(|| vec![RollupTotals::default(); buckets as usize]);
            if let Some(slot) = series.get_mut(index) {
                slot.merge(&totals);
            }
        }
        let mut uptime = Vec::with_capacity(out.len());
        let figures = out
            .into_iter()
            .map(|((workflow_name, environment), series)| {
                let mut total = RollupTotals::default();
                for t in &series {
                    total.merge(t);
                }
                uptime.push(Uptime {
                    workflow_name: workflow_name.clone(),
                    environment: environment.clone(),
                    measured_minutes: total.minutes_measured,
                    up_minutes: total.minutes_up,
                    uptime_percent: ratio(total.minutes_up, total.minutes_measured)
                        .map(|r| r * 100.0),
                });
                let points = if step_ms.is_some() {
                    series
                        .iter()
                        .enumerate()
                        .map(|(i, t)| FiguresPoint {
                            bucket_start: since
                                .plus(chrono::TimeDelta::milliseconds(i as i64 * step)),
                            figures: RunFigures::from_totals(t),
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                WorkflowFigures {
                    workflow_name,
                    environment,
                    total: RunFigures::from_totals(&total),
                    points,
                }
            })
            .collect();
        Ok((figures, uptime))
    }

    /// The rows with runs of one bucket size starting in any of `ranges`.
    ///
    /// They come back as one JSON array in one row (each rollup row an array of its
    /// columns), built by the database: a long window reads thousands of rollup rows, and
    /// handing them over one row at a time (on SQLite, from the connection's thread to the
    /// reading task) cost several times what reading them did.
    async fn sketch_rows(
        &self,
        window: &AnalyticsWindow,
        bucket: RollupBucket,
        ranges: &[(i64, i64)],
    ) -> Result<Vec<SketchRow>, StoreError> {
        let at = |millis: i64| {
            Timestamp::from_unix_millis(millis).ok_or_else(|| {
                StoreError::Unreadable(format!("{millis} ms is not a time the store can hold"))
            })
        };
        let mut bounds = Vec::with_capacity(ranges.len());
        for (from, to) in ranges.iter().filter(|(a, b)| a < b) {
            bounds.push((at(*from)?, at(*to)?));
        }
        if bounds.is_empty() {
            return Ok(Vec::new());
        }
        let head = format!(
            "SELECT {} FROM workflow_rollups WHERE bucket = ",
            sketch_rows_json(self.backend(), "")
        );
        let context = format!("reading {} rollups", bucket.as_str().to_ascii_lowercase());
        let text: Option<String> = dispatch!(self, pool, Db => {
            let mut q = QueryBuilder::<Db>::new(head);
            q.push_bind(bucket);
            q.push(" AND runs > 0 AND (");
            for (n, (from, to)) in bounds.iter().enumerate() {
                if n > 0 {
                    q.push(" OR ");
                }
                q.push("(bucket_start >= ").push_bind(*from);
                q.push(" AND bucket_start < ").push_bind(*to).push(")");
            }
            q.push(")");
            if let Some(workflow) = &window.workflow {
                q.push(" AND workflow_name = ").push_bind(workflow.clone());
            }
            if let Some(environment) = &window.environment {
                q.push(" AND environment = ").push_bind(environment.clone());
            }
            q.build_query_scalar::<Option<String>>()
                .fetch_one(pool)
                .await
                .map_err(StoreError::query(context.clone()))?
        });
        read_json_rows(text, &context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 86_400_000;
    const M: i64 = 60_000;

    #[test]
    fn whole_days_then_hours_then_minutes() {
        // 2 days + 5 h 17 min before a midnight to 19 h 43 min after the next-but-one.
        let since = D - 5 * H - 17 * M;
        let until = 3 * D + 19 * H + 43 * M;
        let got = plan(since, until, |_| true);
        assert_eq!(
            got,
            [
                (RollupBucket::Day, vec![(D, 3 * D)]),
                (
                    RollupBucket::Hour,
                    vec![(D - 5 * H, D), (3 * D, 3 * D + 19 * H)]
                ),
                (
                    RollupBucket::Minute,
                    vec![(since, D - 5 * H), (3 * D + 19 * H, until)]
                ),
            ]
        );
        // Points of whole hours that are not whole days: HOUR rows, never DAY rows.
        let got = plan(since, until, |w| w <= H);
        assert_eq!(
            got[0],
            (RollupBucket::Hour, vec![(D - 5 * H, 3 * D + 19 * H)])
        );
        // Less than a day: no DAY rows; less than an hour within one: only minutes.
        assert_eq!(
            plan(D + 10 * M, D + 50 * M, |_| true)[0].0,
            RollupBucket::Minute
        );
        assert_eq!(plan(0, D, |_| true), [(RollupBucket::Day, vec![(0, D)])]);
    }
}
