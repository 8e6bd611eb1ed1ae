//! The SQL pieces run statistics are built from: which statuses are runs and which passed
//! (for the overview, the reports and the objectives), and the counts and exact percentiles of
//! durations per group, computed in one query that both dialects accept (the overview's
//! 24-hour figures; the reports count their groups in wfmon, `reports/runs.rs`, with the
//! same interpolation).
//!
//! Percentiles interpolate linearly between the two nearest ranks, like PostgreSQL's
//! `percentile_cont`, with window functions and integer arithmetic only, so SQLite and
//! PostgreSQL give the same numbers from the same rows.

use wfmon_model::ExecutionStatus;

/// `'A', 'B'`: the canonical texts of the statuses `keep` selects, for an IN list. Built from
/// the enum, so it cannot name a status that does not exist.
pub(crate) fn status_list(keep: impl Fn(ExecutionStatus) -> bool) -> String {
    ExecutionStatus::ALL
        .iter()
        .filter(|s| keep(**s))
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statuses that are not runs: in flight, or skipped.
pub(crate) fn not_runs() -> String {
    status_list(|s| !s.is_final() || s == ExecutionStatus::Skipped)
}

/// The statuses that count as passed.
pub(crate) fn passed_statuses() -> String {
    status_list(ExecutionStatus::is_success)
}

/// The statistics query after the body of a `runs` CTE that yields `k1, k2, status,
/// duration_ms` (and whatever `extra` reads): per `(k1, k2)` the columns `k1, k2, runs,
/// passed`, the aggregates in `extra` (`SUM(...) AS name, ...`, over the group's rows),
/// and `p<N>` for each percentile asked for, ordered by `k1, k2`. `passed` is an IN list of
/// the status texts that count as passed.
pub(crate) fn grouped_stats_tail(passed: &str, extra: &str, percentiles: &[u32]) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    let bounds: Vec<String> = percentiles
        .iter()
        .map(|p| {
            format!(
                "MAX(CASE WHEN i = {p} * (n - 1) / 100 THEN d END) AS p{p}_lo, \
                 MAX(CASE WHEN i = {p} * (n - 1) / 100 + 1 THEN d END) AS p{p}_hi, \
                 MAX(CAST({p} * (n - 1) % 100 AS DOUBLE PRECISION) / 100) AS p{p}_frac"
            )
        })
        .collect();
    let values: Vec<String> = percentiles
        .iter()
        .map(|p| {
            format!(
                "CASE WHEN q.p{p}_hi IS NULL THEN q.p{p}_lo \
                 ELSE q.p{p}_lo + q.p{p}_frac * (q.p{p}_hi - q.p{p}_lo) END AS p{p}"
            )
        })
        .collect();
    let (bounds, values) = if percentiles.is_empty() {
        ("0 AS none".to_owned(), String::new())
    } else {
        (bounds.join(", "), format!(", {}", values.join(", ")))
    };
    format!(
        "), counts AS ( \
           SELECT k1, k2, COUNT(*) AS runs, \
                  SUM(CASE WHEN status IN ({passed}) THEN 1 ELSE 0 END) AS passed{extra} \
           FROM runs GROUP BY k1, k2 \
         ), ranked AS ( \
           SELECT k1, k2, CAST(duration_ms AS DOUBLE PRECISION) AS d, \
                  ROW_NUMBER() OVER (PARTITION BY k1, k2 ORDER BY duration_ms) - 1 AS i, \
                  COUNT(*) OVER (PARTITION BY k1, k2) AS n \
           FROM runs WHERE duration_ms IS NOT NULL \
         ), quantiles AS ( \
           SELECT k1, k2, {bounds} FROM ranked GROUP BY k1, k2 \
         ) \
         SELECT c.*{values} \
         FROM counts c LEFT JOIN quantiles q ON q.k1 = c.k1 AND q.k2 = c.k2 \
         ORDER BY c.k1, c.k2"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_exclude_the_running_and_the_skipped() {
        assert_eq!(not_runs(), "'RUNNING', 'SKIPPED'");
        assert_eq!(passed_statuses(), "'PASSED', 'WARNING'");
    }

    #[test]
    fn each_percentile_gets_its_own_columns() {
        let sql = grouped_stats_tail("'PASSED'", "", &[50, 99]);
        assert!(sql.contains("AS p50,") || sql.contains("AS p50 "), "{sql}");
        assert!(sql.contains("i = 99 * (n - 1) / 100 + 1"), "{sql}");
        assert!(!sql.contains("p95"), "{sql}");
    }
}
