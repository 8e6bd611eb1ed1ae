//! The `reports:` section: each entry a report produced on a schedule (a preset `hourly`,
//! `daily`, `weekly`, `monthly`, or a cron expression read in a time zone), over a window
//! that ends at the due time, with optional workflow, environment and tag filters and the
//! channels it is sent to. Problems name file:line:column and the key path.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{Months, TimeDelta, Utc};
use serde::Deserialize;
use serde_saphyr::Spanned;
use wfmon_model::{ReportType, Timestamp};

use crate::config::{Checker, Environment, parse_cron};
use crate::notify::channel_names;
use crate::workflow::{Schedule, Workflow};

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReport {
    name: Spanned<String>,
    schedule: Spanned<String>,
    timezone: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    workflow: Option<Spanned<String>>,
    environment: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
}

/// How far back a scheduled report reaches from its due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportWindow {
    /// A fixed length.
    Fixed(TimeDelta),
    /// The calendar month before the due time (in the schedule's time zone).
    CalendarMonth,
}

/// A validated report schedule.
#[derive(Debug, Clone)]
pub struct ReportSchedule {
    /// Unique name (part of each report's id).
    pub name: String,
    /// When it is due.
    pub schedule: Schedule,
    /// The window that ends at each due time.
    pub window: ReportWindow,
    /// The type its reports get.
    pub report_type: ReportType,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only the workflows with one of these tags (empty: no tag filter).
    pub tags: Vec<String>,
    /// Channels (names under `notifications.channels`) it is sent to.
    pub channels: Vec<String>,
}

impl ReportSchedule {
    /// The latest due time at or before `now`.
    pub fn last_due(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.as_datetime().with_timezone(&self.schedule.timezone);
        self.schedule
            .cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| Timestamp::from(t.with_timezone(&Utc)))
    }

    /// The first due time after `after`.
    pub fn next_due(&self, after: Timestamp) -> Option<Timestamp> {
        self.schedule
            .next_after(after.as_datetime())
            .map(Timestamp::from)
    }

    /// The window `[from, to)` of the report due at `due`.
    pub fn window_ending(&self, due: Timestamp) -> (Timestamp, Timestamp) {
        let from = match self.window {
            ReportWindow::Fixed(length) => due.minus(length),
            ReportWindow::CalendarMonth => {
                let local = due.as_datetime().with_timezone(&self.schedule.timezone);
                local
                    .checked_sub_months(Months::new(1))
                    .map(|t| Timestamp::from(t.with_timezone(&Utc)))
                    .unwrap_or_else(|| due.minus(TimeDelta::days(30)))
            }
        };
        (from, due)
    }
}

/// A preset: its cron expression, window and report type.
fn preset(name: &str) -> Option<(&'static str, ReportWindow, ReportType)> {
    Some(match name {
        "hourly" => (
            "0 * * * *",
            ReportWindow::Fixed(TimeDelta::hours(1)),
            ReportType::Hourly,
        ),
        "daily" => (
            "0 0 * * *",
            ReportWindow::Fixed(TimeDelta::days(1)),
            ReportType::Daily,
        ),
        "weekly" => (
            "0 0 * * 1",
            ReportWindow::Fixed(TimeDelta::days(7)),
            ReportType::Weekly,
        ),
        "monthly" => (
            "0 0 1 * *",
            ReportWindow::CalendarMonth,
            ReportType::Monthly,
        ),
        _ => return None,
    })
}

/// Validates the section.
pub(crate) fn validate<T>(
    raw: &[RawReport],
    workflows: &[Workflow],
    environments: &BTreeMap<String, Environment>,
    channels: &BTreeMap<String, T>,
    c: &mut Checker,
) -> Vec<ReportSchedule> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("reports[{i}]");
        let before = c.issue_count();
        let name = c.unique_name(&r.name, &key, "report", &mut seen);
        let timezone = match &r.timezone {
            Some(tz) => chrono_tz::Tz::from_str(&tz.value).map_err(|_| {
                c.issue_at(
                    tz,
                    &format!("{key}.timezone"),
                    format!(
                        "`{}` is not an IANA time zone (e.g. UTC, Europe/Paris)",
                        tz.value
                    ),
                )
            }),
            None => Ok(chrono_tz::UTC),
        };
        let written = r.schedule.value.trim();
        let (expression, preset_window, report_type) = match preset(written) {
            Some((cron, window, kind)) => (cron.to_owned(), Some(window), kind),
            None => (written.to_owned(), None, ReportType::Periodic),
        };
        let cron = parse_cron(&expression).map_err(|e| {
            c.issue_at(
                &r.schedule,
                &format!("{key}.schedule"),
                format!("{e}; or write hourly, daily, weekly or monthly"),
            )
        });
        let window = match (&r.window, preset_window) {
            (Some(w), _) => c
                .duration(w, &format!("{key}.window"))
                .and_then(|d| TimeDelta::from_std(d).ok())
                .and_then(|d| {
                    if d <= TimeDelta::zero() || d > TimeDelta::days(super::MAX_WINDOW_DAYS) {
                        c.issue_at(
                            w,
                            &format!("{key}.window"),
                            format!(
                                "a window is longer than 0 and at most {} days",
                                super::MAX_WINDOW_DAYS
                            ),
                        );
                        None
                    } else {
                        Some(ReportWindow::Fixed(d))
                    }
                }),
            (None, Some(window)) => Some(window),
            (None, None) => {
                c.issue_at(
                    &r.schedule,
                    &format!("{key}.window"),
                    "a cron schedule needs a window (e.g. window: 24h)",
                );
                None
            }
        };
        if let Some(w) = &r.workflow
            && !workflows.iter().any(|k| k.name == w.value)
        {
            c.issue_at(
                w,
                &format!("{key}.workflow"),
                format!("unknown workflow `{}`", w.value),
            );
        }
        if let Some(e) = &r.environment
            && !environments.contains_key(&e.value)
        {
            c.issue_at(
                e,
                &format!("{key}.environment"),
                format!("unknown environment `{}`", e.value),
            );
        }
        for (n, tag) in r.tags.iter().enumerate() {
            if !workflows.iter().any(|w| w.tags.contains(&tag.value)) {
                c.issue_at(
                    tag,
                    &format!("{key}.tags[{n}]"),
                    format!("unknown tag `{}`: no workflow has it", tag.value),
                );
            }
        }
        let channels = channel_names(c, channels, &r.channels, &format!("{key}.channels"));
        if c.issue_count() != before {
            continue;
        }
        let (Ok(timezone), Ok(cron), Some(window)) = (timezone, cron, window) else {
            continue;
        };
        out.push(ReportSchedule {
            name,
            schedule: Schedule {
                expression,
                cron,
                timezone,
            },
            window,
            report_type,
            workflow: r.workflow.as_ref().map(|w| w.value.clone()),
            environment: r.environment.as_ref().map(|e| e.value.clone()),
            tags: r.tags.iter().map(|t| t.value.clone()).collect(),
            channels,
        });
    }
    out
}

/// `2026-03-01T00:00:00Z` as a UTC time, for tests.
#[cfg(test)]
fn utc(text: &str) -> chrono::DateTime<Utc> {
    Timestamp::parse(text).unwrap().as_datetime()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(written: &str, timezone: chrono_tz::Tz) -> ReportSchedule {
        let (cron, window, report_type) = preset(written).unwrap();
        ReportSchedule {
            name: written.into(),
            schedule: Schedule {
                expression: cron.into(),
                cron: parse_cron(cron).unwrap(),
                timezone,
            },
            window,
            report_type,
            workflow: None,
            environment: None,
            tags: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[test]
    fn presets_cover_the_period_that_just_ended() {
        let now = Timestamp::from(utc("2026-03-15T10:20:00Z"));
        let daily = schedule("daily", chrono_tz::UTC);
        let due = daily.last_due(now).unwrap();
        assert_eq!(due, Timestamp::from(utc("2026-03-15T00:00:00Z")));
        let (from, to) = daily.window_ending(due);
        assert_eq!(from, Timestamp::from(utc("2026-03-14T00:00:00Z")));
        assert_eq!(to, due);
        assert_eq!(
            daily.next_due(due),
            Some(Timestamp::from(utc("2026-03-16T00:00:00Z")))
        );

        let monthly = schedule("monthly", chrono_tz::Europe::Paris);
        let due = monthly.last_due(now).unwrap();
        // Midnight of 1 March in Paris is 23:00 UTC the day before.
        assert_eq!(due, Timestamp::from(utc("2026-02-28T23:00:00Z")));
        let (from, _) = monthly.window_ending(due);
        assert_eq!(from, Timestamp::from(utc("2026-01-31T23:00:00Z")));
        assert_eq!(monthly.report_type, ReportType::Monthly);
    }
}
