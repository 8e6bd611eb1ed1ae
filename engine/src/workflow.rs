//! Validated workflow definitions: what the runner executes and the scheduler schedules.
//! Built only by `config` from the YAML file, after every check passed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::template::Template;

/// One journey through the application under test, run in each of its environments.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Unique name (also `workflow_executions.workflow_name`).
    pub name: String,
    /// What the journey proves.
    pub description: Option<String>,
    /// When it runs by itself; `None`: only on demand.
    pub schedule: Option<Schedule>,
    /// Environments it runs in (each known to the configuration).
    pub environments: Vec<String>,
    /// Limit for the whole run, cleanup included.
    pub timeout: Duration,
    /// How failed runs are retried.
    pub retries: RetryPolicy,
    /// Variables of this workflow (override the environment's).
    pub variables: BTreeMap<String, String>,
    /// Limits on recorded metrics.
    pub thresholds: Vec<Threshold>,
    /// Free labels, for filtering and alert rules.
    pub tags: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Steps that always run after `steps`, even after a failure.
    pub cleanup: Vec<Step>,
}

/// A cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written (5 or 6 fields).
    pub expression: String,
    /// The parsed expression.
    pub cron: croner::Cron,
    /// The zone the expression is read in.
    pub timezone: chrono_tz::Tz,
}

impl Schedule {
    /// The first due time strictly after `after`.
    pub fn next_after(
        &self,
        after: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

/// How a failed run is retried: each retry is a separate, linked execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (1: no retry).
    pub attempts: u32,
    /// Growth of the delay between attempts.
    pub backoff: Backoff,
    /// Delay before the first retry.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            backoff: Backoff::Exponential,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt` (2 = first retry).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let n = attempt.saturating_sub(2);
        let delay = match self.backoff {
            Backoff::Fixed => self.initial,
            Backoff::Exponential => self.initial.saturating_mul(2u32.saturating_pow(n.min(31))),
        };
        delay.min(self.max)
    }
}

/// Delay growth between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay each time.
    Fixed,
    /// Doubling each time, up to the maximum.
    Exponential,
}

/// A limit on a metric. `total_duration` is the run's duration; `<step>.response_time` a
/// step's; any other name is a metric a step records.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Metric name.
    pub metric: String,
    /// Largest value within the threshold.
    pub max: f64,
    /// Soft: a breach marks the run WARNING (degraded). Hard: FAILED.
    pub soft: bool,
}

/// One step of a workflow.
#[derive(Debug, Clone)]
pub struct Step {
    /// Name, unique within the workflow.
    pub name: String,
    /// What the step does.
    pub action: StepAction,
    /// Expressions that must hold (CEL), each one test.
    pub assertions: Vec<String>,
    /// Values to capture for later steps, by name.
    pub captures: Vec<Capture>,
    /// Limit for this step.
    pub timeout: Duration,
    /// Whether a failure lets the following steps run.
    pub continue_on_failure: bool,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepAction {
    /// An HTTP request.
    Http(HttpRequest),
    /// An external program (a Playwright suite, a script).
    Command(CommandSpec),
    /// A probe of a health endpoint, recorded as a health check.
    Health(HealthProbe),
}

impl StepAction {
    /// The kind, as stored in `workflow_step_results.step_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Http(_) => "http",
            StepAction::Command(_) => "command",
            StepAction::Health(_) => "health",
        }
    }
}

/// An HTTP request; every text may hold `{{ variable }}` references.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method (GET, POST, ...).
    pub method: String,
    /// URL.
    pub url: Template,
    /// Headers.
    pub headers: Vec<(String, Template)>,
    /// Query parameters.
    pub query: Vec<(String, Template)>,
    /// Body.
    pub body: Option<RequestBody>,
    /// Whether redirects are followed.
    pub follow_redirects: bool,
    /// Whether TLS certificates are verified.
    pub verify_tls: bool,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum RequestBody {
    /// JSON; string values may hold templates.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
    /// Raw text with an optional content type.
    Raw {
        content: Template,
        content_type: Option<String>,
    },
}

/// An external program.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Program and arguments (no shell).
    pub argv: Vec<Template>,
    /// Working directory.
    pub workdir: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, Template)>,
    /// A JUnit XML report the program writes; its test cases become the run's tests.
    pub junit: Option<PathBuf>,
}

/// A health probe.
#[derive(Debug, Clone)]
pub struct HealthProbe {
    /// Endpoint.
    pub url: Template,
    /// Expected status code.
    pub expected_status: u16,
    /// Slower than this is DEGRADED.
    pub degraded_after: Option<Duration>,
    /// Headers.
    pub headers: Vec<(String, Template)>,
}

/// A value captured from a response, stored under `name` for later steps. Values are
/// never recorded or printed; only names are.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Variable name.
    pub name: String,
    /// Where it comes from.
    pub source: CaptureSource,
}

/// Where a captured value comes from.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    /// A JSONPath into the JSON body (`$.user.id`).
    JsonPath(serde_json_path::JsonPath),
    /// A response header.
    Header(String),
    /// The first group (or whole match) of a regular expression on the body.
    Regex(regex::Regex),
}
