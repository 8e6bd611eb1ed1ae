//! Burn-rate rules (`when: {burn_rate: ...}`): the verdict of an objective's multi-window
//! burn condition, on each run and, to resolve an open alert when no run comes, on the
//! timer.

use wfmon_model::Timestamp;
use wfmon_store::StoreError;

use super::{AlertEvaluator, Condition, Verdict, fingerprint, human};

impl AlertEvaluator {
    /// Fire while the objective's budget burns over both windows, clear when it does not.
    pub(super) async fn burn_verdict(
        &self,
        slo: &str,
        burn: &crate::slo::BurnCondition,
        env: &str,
        now: Timestamp,
    ) -> Result<Verdict, StoreError> {
        let Some(slo) = self.config.slo(slo) else {
            return Ok(Verdict::Hold);
        };
        let reading = crate::slo::read_burn(&self.store, &self.config, slo, burn, env, now).await?;
        if !reading.burning {
            return Ok(Verdict::Clear);
        }
        let target = slo.objective.target();
        let rate = |c| crate::slo::burn_rate(target, c).unwrap_or(0.0);
        Ok(Verdict::Fire(format!(
            "SLO {} is burning its error budget: {:.1}x over the last {} ({} of {} runs bad) \
             and {:.1}x over the last {} ({} of {} bad), above {}x",
            slo.name,
            rate(reading.long),
            human(burn.long),
            reading.long.bad(),
            reading.long.runs,
            rate(reading.short),
            human(burn.short),
            reading.short.bad(),
            reading.short.runs,
            burn.factor
        )))
    }

    /// Resolves open burn-rate alerts whose budget stopped burning, even without new runs
    /// (firing waits for a run: a run is what burns the budget).
    pub(super) async fn clear_burn_rates(&self, now: Timestamp) -> Result<(), StoreError> {
        for rule in &self.config.alerts.rules {
            let Condition::BurnRate { slo, burn } = &rule.condition else {
                continue;
            };
            for workflow in &self.config.workflows {
                for env in &workflow.environments {
                    if !rule.applies_to(workflow, env) {
                        continue;
                    }
                    let fingerprint = fingerprint(&rule.name, &workflow.name, env);
                    if self.store.open_alert(&fingerprint).await?.is_none() {
                        continue;
                    }
                    if self.burn_verdict(slo, burn, env, now).await? == Verdict::Clear {
                        self.apply(rule, &workflow.name, env, Verdict::Clear, None)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}
