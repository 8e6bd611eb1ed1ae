//! `GET /api/series`: runs, passed, failed, success rate and p95 duration per minute, hour or
//! UTC day, for charts. Every bucket of the window is present (empty ones with zero runs), oldest
//! first.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::TimeDelta;
use serde::Serialize;
use wfmon_model::{RollupBucket, Timestamp};
use wfmon_store::{RunStats, SeriesPoint, SeriesQuery};

use crate::error::ApiError;
use crate::extract::Params;
use crate::state::AppState;

/// Most buckets one answer holds (a day of minutes, two months of hours, about four years of
/// days).
pub const MAX_BUCKETS: i64 = 1440;

/// The answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    /// `minute`, `hour` or `day`.
    pub bucket: &'static str,
    /// Start of the first bucket.
    pub since: Timestamp,
    /// End of the window (exclusive).
    pub until: Timestamp,
    /// One point per bucket, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// `GET /api/series`
pub async fn series(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Series>, ApiError> {
    params.only(&["workflow", "environment", "bucket", "since", "until"])?;
    let now = Timestamp::now();
    let bucket = params
        .parse_with("bucket", |text| match text.to_ascii_lowercase().as_str() {
            "hour" => Ok(RollupBucket::Hour),
            "minute" => Ok(RollupBucket::Minute),
            "day" => Ok(RollupBucket::Day),
            _ => Err(format!(
                "`bucket`: `{}` is not a bucket (write minute, hour or day)",
                crate::error::echo(text)
            )),
        })?
        .unwrap_or(RollupBucket::Hour);
    let (width, default_span, name) = match bucket {
        RollupBucket::Hour => (TimeDelta::hours(1), TimeDelta::hours(24), "hour"),
        RollupBucket::Minute => (TimeDelta::minutes(1), TimeDelta::hours(1), "minute"),
        RollupBucket::Day => (TimeDelta::days(1), TimeDelta::days(30), "day"),
    };
    if let Some(name) = params.text("workflow")
        && state.config().workflow(name).is_none()
    {
        return Err(ApiError::not_found("workflow", name));
    }
    let until = params.instant("until", now)?.unwrap_or(now);
    let since = params
        .instant("since", now)?
        .unwrap_or_else(|| until.minus(default_span));
    if until <= since {
        return Err(ApiError::invalid_parameter(
            "until",
            "`until` must be after `since`",
        ));
    }
    let step = width.num_milliseconds();
    let first = since.unix_millis().div_euclid(step) * step;
    let buckets = (until.unix_millis() - first + step - 1) / step;
    if buckets > MAX_BUCKETS {
        return Err(ApiError::invalid_parameter(
            "since",
            format!(
                "the window holds {buckets} {name} buckets; at most {MAX_BUCKETS} (narrow `since`..`until` or use a wider bucket)"
            ),
        ));
    }
    let points = series_points(
        &state,
        params.text("workflow"),
        params.text("environment"),
        bucket,
        since,
        until,
    )
    .await?;
    let since = points.first().map(|p| p.bucket_start).unwrap_or(since);
    Ok(Json(Series {
        bucket: name,
        since,
        until,
        points,
    }))
}

/// The points of a series: every bucket from the one holding `since` to `until`, oldest
/// first, empty buckets with zero runs (the API's series and the dashboard's charts).
pub async fn series_points(
    state: &AppState,
    workflow: Option<&str>,
    environment: Option<&str>,
    bucket: RollupBucket,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<SeriesPoint>, ApiError> {
    let step = match bucket {
        RollupBucket::Day => TimeDelta::days(1),
        RollupBucket::Hour => TimeDelta::hours(1),
        RollupBucket::Minute => TimeDelta::minutes(1),
    }
    .num_milliseconds();
    let first = since.unix_millis().div_euclid(step) * step;
    let buckets = ((until.unix_millis() - first + step - 1) / step).clamp(0, MAX_BUCKETS);
    let since = Timestamp::from_unix_millis(first).unwrap_or(since);
    let query = SeriesQuery {
        workflow: workflow.map(str::to_owned),
        environment: environment.map(str::to_owned),
        bucket,
        since,
        until,
    };
    let mut found: HashMap<i64, SeriesPoint> = state
        .store()
        .run_series(&query)
        .await?
        .into_iter()
        .map(|p| (p.bucket_start.unix_millis(), p))
        .collect();
    Ok((0..buckets)
        .filter_map(|i| {
            let start = first + i * step;
            found.remove(&start).or_else(|| {
                Timestamp::from_unix_millis(start).map(|bucket_start| SeriesPoint {
                    bucket_start,
                    stats: RunStats::default(),
                })
            })
        })
        .collect())
}
