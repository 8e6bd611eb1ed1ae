//! The schedule counts of finished scheduled runs, written in the recorder's transaction.

use std::collections::{BTreeMap, HashMap};

use sqlx::QueryBuilder;
use wfmon_model::Timestamp;

use super::ScheduleTally;
use crate::rollups::RunFacts;

/// Schedules named per statement (6 parameters each).
const SCHEDULES_PER_STATEMENT: usize = 1000;

/// Counts finished scheduled runs and releases their leases, inside the recorder's
/// transaction: one statement per thousand schedules (a batch's tallies of one schedule by
/// one instance are added up first), whatever the number of runs.
pub(crate) async fn tally<'c, DB>(
    conn: &mut DB::Connection,
    tallies: &[&ScheduleTally],
    previous: &HashMap<String, RunFacts>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Timestamp: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Timestamp>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for round in tally_rounds(tallies, previous) {
        let rows: Vec<(&String, &TallySum)> = round.iter().collect();
        for chunk in rows.chunks(SCHEDULES_PER_STATEMENT) {
            // Every CASE reads the row as it was: the lease is tested before it is released.
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE workflow_schedules SET run_count = run_count + v.column2, \
                 success_count = success_count + v.column3, \
                 failure_count = failure_count + v.column4, \
                 next_run_at = CASE WHEN v.column6 IS NOT NULL AND lease_owner = v.column5 \
                   AND (next_run_at IS NULL OR next_run_at < v.column6) \
                   THEN v.column6 ELSE next_run_at END, \
                 lease_expires_at = CASE WHEN lease_owner = v.column5 THEN NULL \
                   ELSE lease_expires_at END, \
                 lease_owner = CASE WHEN lease_owner = v.column5 THEN NULL ELSE lease_owner END \
                 FROM (",
            );
            q.push_values(chunk, |mut row, (schedule_id, sum)| {
                row.push_bind((*schedule_id).clone())
                    .push_bind(sum.runs)
                    .push_bind(sum.passed)
                    .push_bind(sum.runs - sum.passed)
                    .push_bind(sum.owner.clone())
                    .push_bind(sum.next_run_at);
            });
            q.push(") AS v WHERE workflow_schedules.schedule_id = v.column1");
            q.build().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// The runs of one schedule by one instance in a batch, added up.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TallySum {
    owner: String,
    runs: i64,
    passed: i64,
    /// The first run's: once it releases the lease, the later ones no longer hold it.
    next_run_at: Option<Timestamp>,
}

/// The tallies added up per schedule and owner, in rounds that name each schedule once, in
/// the order of the batch (a schedule ended by two instances in one batch, which only a lease
/// taken over can cause, takes two rounds, as two statements would).
fn tally_rounds(
    tallies: &[&ScheduleTally],
    previous: &HashMap<String, RunFacts>,
) -> Vec<BTreeMap<String, TallySum>> {
    let mut rounds: Vec<BTreeMap<String, TallySum>> = Vec::new();
    for t in tallies {
        let (runs, passed) = contribution(t, previous);
        let last = rounds.iter().rposition(|r| r.contains_key(&t.schedule_id));
        if let Some(i) = last
            && let Some(sum) = rounds[i].get_mut(&t.schedule_id)
            && sum.owner == t.owner
        {
            sum.runs += runs;
            sum.passed += passed;
            continue;
        }
        let next = last.map_or(0, |i| i + 1);
        if rounds.len() == next {
            rounds.push(BTreeMap::new());
        }
        rounds[next].insert(
            t.schedule_id.clone(),
            TallySum {
                owner: t.owner.clone(),
                runs,
                passed,
                next_run_at: t.next_run_at,
            },
        );
    }
    rounds
}

/// What a tally adds to its schedule's run and success counts (failures are the runs not
/// passed): a new run adds one run; a run whose row was already final before this write was
/// counted then, and only moves from its earlier outcome to this one.
fn contribution(t: &ScheduleTally, previous: &HashMap<String, RunFacts>) -> (i64, i64) {
    let before = t
        .run_id
        .as_ref()
        .and_then(|id| previous.get(id))
        .filter(|b| b.status.is_final());
    match before {
        Some(b) => (0, i64::from(t.passed) - i64::from(b.status.is_success())),
        None => (1, i64::from(t.passed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schedule: &str, owner: &str, passed: bool, next: Option<&str>) -> ScheduleTally {
        ScheduleTally {
            schedule_id: schedule.into(),
            run_id: None,
            owner: owner.into(),
            passed,
            next_run_at: next.map(|n| Timestamp::parse(n).unwrap()),
        }
    }

    #[test]
    fn tallies_add_up_per_schedule_and_keep_the_first_due_time() {
        let a1 = t("a", "i1", true, Some("2026-03-04T05:06:00Z"));
        let a2 = t("a", "i1", false, Some("2026-03-04T05:07:00Z"));
        let b = t("b", "i1", true, None);
        let rounds = tally_rounds(&[&a1, &b, &a2], &HashMap::new());
        assert_eq!(rounds.len(), 1);
        let a = &rounds[0]["a"];
        assert_eq!((a.runs, a.passed), (2, 1));
        assert_eq!(a.next_run_at, a1.next_run_at);
        assert_eq!((rounds[0]["b"].runs, rounds[0]["b"].next_run_at), (1, None));
    }

    #[test]
    fn a_schedule_ended_by_two_owners_takes_two_rounds_in_order() {
        let first = t("a", "i1", true, None);
        let other = t("a", "i2", true, None);
        let again = t("a", "i1", false, None);
        let rounds = tally_rounds(&[&first, &other, &again], &HashMap::new());
        let owners: Vec<(&str, i64)> = rounds
            .iter()
            .map(|r| (r["a"].owner.as_str(), r["a"].runs))
            .collect();
        assert_eq!(owners, [("i1", 1), ("i2", 1), ("i1", 1)]);
    }
}
