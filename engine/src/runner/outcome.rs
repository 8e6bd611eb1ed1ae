//! What a run produced: plain data the recorder turns into rows and `wfmon check` prints.
//! Nothing here holds a captured value or a secret; every message is already redacted.

use serde::Serialize;
use wfmon_model::{ExecutionStatus, HealthStatus, StepStatus, Timestamp};

/// The result of one run of a workflow in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    /// PASSED, WARNING, FAILED or TIMED_OUT.
    pub status: ExecutionStatus,
    /// When the first step started.
    pub started_at: Timestamp,
    /// Wall time of the whole run, cleanup included (the `total_duration` metric).
    pub duration_ms: u64,
    /// Every step, then every cleanup step, in order (skipped ones included).
    pub steps: Vec<StepOutcome>,
    /// Assertions and JUnit test cases that passed.
    pub tests_passed: u32,
    /// Assertions and JUnit test cases that failed.
    pub tests_failed: u32,
    /// Assertions and JUnit test cases run (skipped JUnit cases included).
    pub tests_total: u32,
    /// The first failure (or, for WARNING, the first soft breach), precise and redacted.
    pub error: Option<String>,
    /// Thresholds whose metric went over its maximum.
    pub breached_thresholds: Vec<ThresholdBreach>,
}

/// A metric that went over a threshold's maximum.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdBreach {
    /// The metric, qualified by step where it is a step's (`login.response_time`).
    pub metric: String,
    /// The recorded value.
    pub value: f64,
    /// The threshold's maximum.
    pub max: f64,
    /// Soft breaches make the run WARNING; hard ones FAILED.
    pub soft: bool,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutcome {
    /// Position over steps then cleanup steps, from 0.
    pub order: u32,
    /// The step's name.
    pub name: String,
    /// `http`, `command` or `health`.
    pub kind: &'static str,
    /// Whether it is a cleanup step.
    pub is_cleanup: bool,
    /// How it ended.
    pub status: StepStatus,
    /// When it started (for a skipped step: when it was skipped).
    pub started_at: Timestamp,
    /// Wall time of the step.
    pub duration_ms: u64,
    /// Time of the HTTP exchange (request sent to body read), for http and health steps.
    pub response_time_ms: Option<u64>,
    /// The response's status code.
    pub http_status: Option<u16>,
    /// Each assertion, in order.
    pub assertions: Vec<AssertionOutcome>,
    /// Names (never values) of the variables this step captured.
    pub captured: Vec<String>,
    /// Why the step did not pass (or why it was skipped).
    pub error: Option<String>,
    /// The probe's result, for health steps.
    pub health: Option<HealthOutcome>,
    /// The JUnit test cases a command step reported.
    pub tests: Vec<TestCaseOutcome>,
    /// Measured values: (name, value, unit).
    pub metrics: Vec<(String, f64, Option<String>)>,
}

impl StepOutcome {
    /// Assertions that passed plus JUnit cases that passed.
    pub fn tests_passed(&self) -> u32 {
        count(self.assertions.iter().filter(|a| a.passed))
            + count(self.tests.iter().filter(|t| t.passed))
    }

    /// Assertions that failed plus JUnit cases that failed.
    pub fn tests_failed(&self) -> u32 {
        count(self.assertions.iter().filter(|a| !a.passed))
            + count(self.tests.iter().filter(|t| !t.passed && !t.skipped))
    }

    /// Assertions plus JUnit cases (skipped ones included).
    pub fn tests_total(&self) -> u32 {
        count(self.assertions.iter()) + count(self.tests.iter())
    }

    /// Whether the step counts as a failure of the run.
    pub fn is_failure(&self) -> bool {
        matches!(self.status, StepStatus::Failed | StepStatus::TimedOut)
    }
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// The result of one assertion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionOutcome {
    /// The CEL expression as written.
    pub expression: String,
    /// Whether it held.
    pub passed: bool,
    /// For a failed comparison `A op B`: B (with the operator unless it is `==`); else `true`.
    pub expected: Option<String>,
    /// For a failed comparison: the value of A; else the expression's value.
    pub actual: Option<String>,
    /// Why it failed when that is more than expected/actual: an evaluation error, or the
    /// conjunct of an `&&` chain that did not hold.
    pub error: Option<String>,
}

/// The result of a health probe (a `system_health_checks` row).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthOutcome {
    /// The URL probed, credentials and secrets redacted.
    pub endpoint: String,
    /// HEALTHY, DEGRADED or UNHEALTHY.
    pub status: HealthStatus,
    /// Time until the answer was read (or until the probe gave up).
    pub response_time_ms: u64,
    /// The status code that means healthy.
    pub expected_status: u16,
    /// The status code received, if any.
    pub actual_status: Option<u16>,
    /// Why it is not healthy.
    pub error: Option<String>,
}

/// One test case of a JUnit report written by a command step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCaseOutcome {
    /// The test's name.
    pub name: String,
    /// Its class or file, as the report names it.
    pub classname: Option<String>,
    /// Whether it passed (false for failed and skipped cases).
    pub passed: bool,
    /// Whether it was skipped.
    pub skipped: bool,
    /// The failure, error or skip message.
    pub message: Option<String>,
    /// Its duration as the report gives it.
    pub duration_ms: Option<u64>,
}
