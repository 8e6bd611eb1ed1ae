//! What people do to an alert: acknowledge it, resolve it by hand, or silence it for a
//! while. Shared by `wfmon alerts` and the API, so both record who acted and when the same
//! way; each is one compare-and-set change in the store, and when it does not apply the
//! outcome tells an unknown alert from one in a state that does not allow it.

use wfmon_model::{Alert, AlertStatus, Timestamp};
use wfmon_store::StoreError;

use super::evaluator::{AlertEvaluator, silence_note};

/// The longest silence set by hand, in days (the API and the command line alike).
pub const MAX_SILENCE_DAYS: i64 = 365;

/// A change someone asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertAction {
    /// No more escalation or reminders (ACTIVE, ESCALATED or SILENCED alerts nobody
    /// acknowledged yet; acknowledging a SILENCED alert ends its silence).
    Acknowledge,
    /// Resolve now; whoever was sent its notifications gets a recovery message (any open
    /// alert).
    Resolve,
    /// Keep recording, stop notifying, until `until` (any open alert); then the alert gets
    /// back the status it had.
    Silence {
        /// When the silence ends.
        until: Timestamp,
        /// Why, kept with the alert.
        reason: String,
    },
}

impl AlertAction {
    /// The word for the change in `alert.changed` events and messages.
    pub fn change(&self) -> &'static str {
        match self {
            AlertAction::Acknowledge => "acknowledged",
            AlertAction::Resolve => "resolved",
            AlertAction::Silence { .. } => "silenced",
        }
    }

    /// The statuses an alert must have for the action to apply.
    pub fn applies_to(&self) -> &'static [AlertStatus] {
        match self {
            AlertAction::Acknowledge => &[
                AlertStatus::Active,
                AlertStatus::Escalated,
                AlertStatus::Silenced,
            ],
            AlertAction::Resolve | AlertAction::Silence { .. } => &[
                AlertStatus::Active,
                AlertStatus::Escalated,
                AlertStatus::Silenced,
                AlertStatus::Acknowledged,
            ],
        }
    }

    /// What the alert must be, in words ("open and unacknowledged", "open").
    pub fn requirement(&self) -> &'static str {
        match self {
            AlertAction::Acknowledge => "open and unacknowledged",
            AlertAction::Resolve | AlertAction::Silence { .. } => "open",
        }
    }
}

/// What came of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Done: the alert as stored now.
    Changed(Alert),
    /// No alert has that id.
    Unknown,
    /// The alert's state does not allow the action (it is as shown).
    NotApplicable(Alert),
}

impl AlertEvaluator {
    /// Applies `action` to the alert `alert_id` on behalf of `by`, and announces the change.
    pub async fn act(
        &self,
        alert_id: &str,
        by: &str,
        action: &AlertAction,
    ) -> Result<ActionOutcome, StoreError> {
        let store = self.store();
        let changed = match action {
            AlertAction::Acknowledge => {
                store
                    .acknowledge_alert(alert_id, by, Timestamp::now())
                    .await?
            }
            // resolve_by_hand announces the change itself.
            AlertAction::Resolve => {
                return self
                    .outcome(alert_id, self.resolve_by_hand(alert_id, by).await?)
                    .await;
            }
            AlertAction::Silence { until, reason } => {
                let note = silence_note(by, *until, reason);
                let silenced = store
                    .silence_alert(alert_id, *until, reason, by, &note, Timestamp::now())
                    .await?;
                silenced.map(|(alert, withdrawn)| {
                    self.count_suppressed(&withdrawn);
                    alert
                })
            }
        };
        self.announce(action.change(), changed.as_ref());
        self.outcome(alert_id, changed).await
    }

    async fn outcome(
        &self,
        alert_id: &str,
        changed: Option<Alert>,
    ) -> Result<ActionOutcome, StoreError> {
        Ok(match changed {
            Some(alert) => ActionOutcome::Changed(alert),
            None => match self.store().get::<Alert>(alert_id).await? {
                Some(alert) => ActionOutcome::NotApplicable(alert),
                None => ActionOutcome::Unknown,
            },
        })
    }
}
