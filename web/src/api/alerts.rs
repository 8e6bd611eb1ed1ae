//! One alert, and what people do to it: acknowledge, resolve, silence. The changes go
//! through the alerting engine's actions (the same as `wfmon alerts`), which record who and
//! when and announce `alert.changed` on the live events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use wfmon_engine::alerting::{ActionOutcome, AlertAction, MAX_SILENCE_DAYS};
use wfmon_model::{Alert, Timestamp};

use crate::auth::{Principal, Via};
use crate::error::{ApiError, echo};
use crate::extract::{JsonBody, Params, PathParam, in_range};
use crate::state::AppState;

/// Who acted when the body does not say.
const DEFAULT_ACTOR: &str = "api";
/// Longest `by`.
const MAX_BY: usize = 100;
/// Longest `reason`.
const MAX_REASON: usize = 500;

/// The body of `POST /api/alerts/{id}/acknowledge` and `.../resolve` (may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Who acts (default `api`).
    pub by: Option<String>,
}

/// The body of `POST /api/alerts/{id}/silence`: `for` or `until`, and `reason`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// How long, e.g. `30m`, `2h`, `1d`.
    #[serde(rename = "for")]
    pub length: Option<String>,
    /// Until when (RFC 3339).
    pub until: Option<String>,
    /// Why (required).
    pub reason: Option<String>,
    /// Who acts (default `api`).
    pub by: Option<String>,
}

/// `GET /api/alerts/{alertId}`
pub async fn detail(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    params: Params,
) -> Result<Json<Alert>, ApiError> {
    params.only(&[])?;
    state
        .store()
        .get::<Alert>(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("alert", &id))
}

/// `POST /api/alerts/{alertId}/acknowledge`
pub async fn acknowledge(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    params: Params,
    JsonBody(body): JsonBody<ActionRequest>,
) -> Result<Json<Alert>, ApiError> {
    params.only(&[])?;
    let by = actor(&principal, body.by)?;
    act(&state, &id, &by, AlertAction::Acknowledge).await
}

/// `POST /api/alerts/{alertId}/resolve`
pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    params: Params,
    JsonBody(body): JsonBody<ActionRequest>,
) -> Result<Json<Alert>, ApiError> {
    params.only(&[])?;
    let by = actor(&principal, body.by)?;
    act(&state, &id, &by, AlertAction::Resolve).await
}

/// `POST /api/alerts/{alertId}/silence`
pub async fn silence(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    params: Params,
    JsonBody(body): JsonBody<SilenceRequest>,
) -> Result<Json<Alert>, ApiError> {
    params.only(&[])?;
    let by = actor(&principal, body.by)?;
    let now = Timestamp::now();
    let until = match (body.length.as_deref(), body.until.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_body(
                "for",
                "give either `for` (a duration) or `until` (a time), not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_body(
                "for",
                "`for` (a duration such as 2h) or `until` (an RFC 3339 time) is required",
            ));
        }
        (Some(length), None) => silence_for(length, now)?,
        (None, Some(until)) => silence_until(until, now)?,
    };
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid_body("reason", "`reason` is required: say why"))?;
    check_text("reason", reason, MAX_REASON)?;
    let action = AlertAction::Silence {
        until,
        reason: reason.to_owned(),
    };
    act(&state, &id, &by, action).await
}

async fn act(
    state: &AppState,
    id: &str,
    by: &str,
    action: AlertAction,
) -> Result<Json<Alert>, ApiError> {
    match state.alerts().act(id, by, &action).await? {
        ActionOutcome::Changed(alert) => Ok(Json(alert)),
        ActionOutcome::Unknown => Err(ApiError::not_found("alert", id)),
        ActionOutcome::NotApplicable(alert) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_state",
            format!(
                "alert `{}` is {}; it can be {} only when {}",
                echo(id),
                alert.status,
                action.change(),
                action.requirement()
            ),
        )
        .with_details(json!({
            "status": alert.status.as_str(),
            "allowed": action.applies_to().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        }))),
    }
}

/// Who acts: the authenticated user or token; with authentication off, the body's `by`,
/// trimmed, or `api`.
fn actor(principal: &Principal, by: Option<String>) -> Result<String, ApiError> {
    if principal.via != Via::Open {
        return Ok(principal.name.clone());
    }
    match by.as_deref().map(str::trim) {
        None | Some("") => Ok(DEFAULT_ACTOR.to_owned()),
        Some(name) => {
            check_text("by", name, MAX_BY)?;
            Ok(name.to_owned())
        }
    }
}

fn check_text(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.chars().count() > max {
        return Err(ApiError::invalid_body(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid_body(
            field,
            format!("`{field}` cannot hold control characters"),
        ));
    }
    Ok(())
}

fn silence_for(text: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    let length = wfmon_model::parse_duration(text.trim())
        .map_err(|e| ApiError::invalid_body("for", format!("`for`: {e}")))?;
    if length <= chrono::TimeDelta::zero() {
        return Err(ApiError::invalid_body(
            "for",
            "`for` must be longer than zero",
        ));
    }
    if length > chrono::TimeDelta::days(MAX_SILENCE_DAYS) {
        return Err(ApiError::invalid_body(
            "for",
            format!("`for` is at most {MAX_SILENCE_DAYS}d, not `{}`", echo(text)),
        ));
    }
    Ok(now.plus(length))
}

fn silence_until(text: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        ApiError::invalid_body(
            "until",
            format!(
                "`until`: `{}` is not an RFC 3339 time (2026-01-02T03:04:05Z)",
                echo(text)
            ),
        )
    })?;
    let until = Timestamp::from(parsed.with_timezone(&chrono::Utc));
    if until <= now {
        return Err(ApiError::invalid_body(
            "until",
            format!("`until` ({until}) is not in the future"),
        ));
    }
    if !in_range(until) || until > now.plus(chrono::TimeDelta::days(MAX_SILENCE_DAYS)) {
        return Err(ApiError::invalid_body(
            "until",
            format!("`until` is at most {MAX_SILENCE_DAYS} days ahead"),
        ));
    }
    Ok(until)
}
