//! One step: fill in its templates, run its action, then judge what it observed with its
//! assertions and captures. Every fault becomes a status and a precise message.

use std::collections::BTreeMap;
use std::time::Instant;

use wfmon_model::{HealthStatus, StepStatus, Timestamp};

use super::assertions::{Facts, check_all, cut, json_to_cel, vars_value};
use super::capture::{CaptureInput, capture};
use super::command::{self, CommandRun, Exit};
use super::http::{self, HttpClients};
use super::outcome::{AssertionOutcome, StepOutcome};
use super::redact::Redactor;
use super::units::{human, millis, millis_i64};
use super::{RunContext, health, junit, variables};
use crate::workflow::{CommandSpec, HealthProbe, HttpRequest, Step, StepAction};

/// Longest piece of a command's output quoted in a message.
const MESSAGE_TAIL: usize = 2000;

/// What a run carries from step to step.
pub(crate) struct RunState<'a> {
    /// Limits and secrets.
    pub ctx: &'a RunContext,
    /// Variables, captured values included.
    pub vars: BTreeMap<String, String>,
    /// Everything that must not appear in messages.
    pub redactor: Redactor,
    /// HTTP clients sharing the run's cookie jar.
    pub clients: HttpClients,
}

/// A step outcome with nothing observed yet.
pub(crate) fn blank(order: u32, step: &Step, is_cleanup: bool, status: StepStatus) -> StepOutcome {
    StepOutcome {
        order,
        name: step.name.clone(),
        kind: step.action.kind(),
        is_cleanup,
        status,
        started_at: Timestamp::now(),
        duration_ms: 0,
        response_time_ms: None,
        http_status: None,
        assertions: Vec::new(),
        captured: Vec::new(),
        error: None,
        health: None,
        tests: Vec::new(),
        metrics: Vec::new(),
    }
}

/// Runs one step within its own timeout.
pub(crate) async fn run_step(
    step: &Step,
    order: u32,
    is_cleanup: bool,
    state: &mut RunState<'_>,
) -> StepOutcome {
    let mut outcome = blank(order, step, is_cleanup, StepStatus::Passed);
    let started = Instant::now();
    if let Some(name) = variables::missing(step, &state.vars) {
        if is_cleanup {
            // Cleanup of something never created (its id was never captured): nothing to do.
            outcome.status = StepStatus::Skipped;
            outcome.error = Some(format!(
                "skipped: variable `{name}` is not set (the step that captures it failed or did not run)"
            ));
        } else {
            not_evaluated(
                &mut outcome,
                step,
                format!("variable `{name}` is not set"),
                false,
            );
        }
        return outcome;
    }
    match &step.action {
        StepAction::Http(spec) => http_step(spec, step, state, &mut outcome).await,
        StepAction::Command(spec) => command_step(spec, step, state, &mut outcome).await,
        StepAction::Health(spec) => health_step(spec, step, state, &mut outcome).await,
    }
    outcome.duration_ms = millis(started.elapsed());
    outcome
}

async fn http_step(
    spec: &HttpRequest,
    step: &Step,
    state: &mut RunState<'_>,
    outcome: &mut StepOutcome,
) {
    let prepared = match http::prepare(spec, &state.vars, &mut state.clients, &mut state.redactor) {
        Ok(prepared) => prepared,
        Err(failure) => return not_evaluated(outcome, step, failure.message, false),
    };
    let shown = prepared.shown.clone();
    let sent = tokio::time::timeout(
        step.timeout,
        http::send(prepared, state.ctx.body_cap, &state.redactor),
    )
    .await;
    let exchange = match sent {
        Err(_) => {
            let message = format!(
                "{shown}: no response within {} (step timeout)",
                human(step.timeout)
            );
            return not_evaluated(outcome, step, state.redactor.redact(&message), true);
        }
        Ok(Err(failure)) => return not_evaluated(outcome, step, failure.message, false),
        Ok(Ok(exchange)) => exchange,
    };
    outcome.http_status = Some(exchange.status);
    outcome.response_time_ms = Some(exchange.response_time_ms);
    outcome
        .metrics
        .push(response_time(exchange.response_time_ms));
    let facts = exchange.facts(&state.vars);
    judge(step, state, outcome, &facts, &exchange.capture_input());
}

async fn health_step(
    spec: &HealthProbe,
    step: &Step,
    state: &mut RunState<'_>,
    outcome: &mut StepOutcome,
) {
    let probe = match health::probe(
        spec,
        &state.vars,
        &mut state.clients,
        &mut state.redactor,
        state.ctx.body_cap,
        step.timeout,
    )
    .await
    {
        Ok(probe) => probe,
        Err(message) => return not_evaluated(outcome, step, message, false),
    };
    let health = probe.health.clone();
    outcome.health = Some(probe.health);
    let Some(exchange) = probe.exchange else {
        let message = health.error.unwrap_or_else(|| "no answer".into());
        return not_evaluated(outcome, step, message, probe.timed_out);
    };
    outcome.http_status = Some(exchange.status);
    outcome.response_time_ms = Some(exchange.response_time_ms);
    outcome
        .metrics
        .push(response_time(exchange.response_time_ms));
    let facts = exchange.facts(&state.vars);
    judge(step, state, outcome, &facts, &exchange.capture_input());
    // Only UNHEALTHY fails the step, and that verdict comes before the assertions';
    // DEGRADED is a warning.
    match health.status {
        HealthStatus::Unhealthy => {
            outcome.status = StepStatus::Failed;
            outcome.error = Some(format!(
                "GET {}: {}",
                health.endpoint,
                health.error.unwrap_or_default()
            ));
        }
        HealthStatus::Degraded if outcome.status == StepStatus::Passed => {
            outcome.status = StepStatus::Warning;
            outcome.error = health
                .error
                .map(|e| format!("GET {}: {e}", health.endpoint));
        }
        _ => {}
    }
}

async fn command_step(
    spec: &CommandSpec,
    step: &Step,
    state: &mut RunState<'_>,
    outcome: &mut StepOutcome,
) {
    let run = match command::run(spec, &state.vars, step.timeout, state.ctx.output_cap).await {
        Ok(run) => run,
        Err(message) => {
            let message = state.redactor.redact(&message);
            return not_evaluated(outcome, step, message, false);
        }
    };
    outcome
        .metrics
        .push(("duration".into(), run.duration_ms as f64, Some("ms".into())));
    let redactor = &state.redactor;
    let exit_failure = exit_failure(&run, step).map(|m| redactor.redact(&m));
    if run.exit == Exit::TimedOut {
        let message = exit_failure.unwrap_or_default();
        return not_evaluated(outcome, step, message, true);
    }
    let mut junit_failure = None;
    if let Some((path, started_at)) = &run.junit {
        match command::read_junit(path, *started_at).and_then(|xml| {
            junit::parse(&xml).map_err(|e| format!("the JUnit report `{}`: {e}", path.display()))
        }) {
            Ok(mut cases) => {
                for case in &mut cases {
                    case.message = case.message.as_deref().map(|m| redactor.redact(m));
                }
                let failed: Vec<_> = cases.iter().filter(|c| !c.passed && !c.skipped).collect();
                if let Some(first) = failed.first() {
                    junit_failure = Some(format!(
                        "{} of {} tests failed; first: `{}`{}",
                        failed.len(),
                        cases.len(),
                        first.name,
                        first
                            .message
                            .as_deref()
                            .map(|m| format!(": {}", cut(m, 300)))
                            .unwrap_or_default()
                    ));
                }
                outcome.tests = cases;
            }
            // A missing report after a failed exit says less than the exit code does.
            Err(message) if exit_failure.is_none() => junit_failure = Some(message),
            Err(_) => {}
        }
    }
    let mut facts = Facts::default();
    let exit_code = match run.exit {
        Exit::Code(code) => i64::from(code),
        _ => -1,
    };
    let stdout = run.stdout.text();
    facts.set("exit_code", cel::Value::Int(exit_code));
    facts.set("stdout", cel::Value::from(stdout.as_str()));
    facts.set("stderr", cel::Value::from(run.stderr.text().as_str()));
    facts.set("duration_ms", cel::Value::Int(millis_i64(run.duration_ms)));
    facts.set("vars", vars_value(&state.vars));
    let json: Option<serde_json::Value> = serde_json::from_str(&stdout).ok();
    match &json {
        Some(json) => facts.set("json", json_to_cel(json)),
        None => facts.note("json", "the standard output is not JSON".into()),
    }
    let input = CaptureInput {
        text: &stdout,
        json: json.as_ref(),
        headers: None,
    };
    judge(step, state, outcome, &facts, &input);
    // The program's own verdict comes before what the assertions found.
    let own = match (junit_failure, exit_failure) {
        (Some(junit), _) => Some(junit),
        (None, exit) => exit,
    };
    if let Some(message) = own {
        outcome.status = StepStatus::Failed;
        outcome.error = Some(message);
    }
}

/// Why the program's exit means failure, with the end of its output.
fn exit_failure(run: &CommandRun, step: &Step) -> Option<String> {
    let program = &run.program;
    let what = match run.exit {
        Exit::Code(0) => return None,
        Exit::Code(code) => format!("`{program}` exited with code {code}"),
        Exit::Signal(signal) => format!("`{program}` was killed by signal {signal}"),
        Exit::TimedOut => format!(
            "`{program}` timed out after {} (step timeout) and was killed",
            human(step.timeout)
        ),
    };
    let stderr = run.stderr.text();
    let output = if stderr.trim().is_empty() {
        run.stdout.text()
    } else {
        stderr
    };
    let output = output.trim();
    Some(if output.is_empty() {
        what
    } else {
        format!("{what}; last output: {}", last_chars(output, MESSAGE_TAIL))
    })
}

fn last_chars(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let skip = count - max;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

fn response_time(ms: u64) -> (String, f64, Option<String>) {
    ("response_time".into(), ms as f64, Some("ms".into()))
}

/// Evaluates the step's captures and assertions; a failed assertion, else a failed capture,
/// fails the step.
fn judge(
    step: &Step,
    state: &mut RunState<'_>,
    outcome: &mut StepOutcome,
    facts: &Facts,
    input: &CaptureInput<'_>,
) {
    let mut capture_failure = None;
    for c in &step.captures {
        match capture(c, input) {
            Ok(value) => {
                state.redactor.add(&value);
                state.vars.insert(c.name.clone(), value);
                outcome.captured.push(c.name.clone());
            }
            Err(message) if capture_failure.is_none() => {
                capture_failure = Some(state.redactor.redact(&message));
            }
            Err(_) => {}
        }
    }
    // After the captures, so that a captured value is hidden from the assertions' messages.
    outcome.assertions = check_all(&step.assertions, facts, &state.redactor);
    if let Some(failed) = outcome.assertions.iter().find(|a| !a.passed) {
        fail(outcome, assertion_failure(failed));
    } else if let Some(message) = capture_failure {
        fail(outcome, message);
    }
}

/// The message for a failed assertion: what, why, and expected against actual.
pub(crate) fn assertion_failure(a: &AssertionOutcome) -> String {
    let mut text = format!("assertion `{}` failed", a.expression);
    if let Some(error) = &a.error {
        text.push_str(&format!(": {error}"));
    }
    if let (Some(expected), Some(actual)) = (&a.expected, &a.actual) {
        text.push_str(&format!(" (expected {expected}, actual {actual})"));
    }
    text
}

fn fail(outcome: &mut StepOutcome, message: String) {
    if !matches!(outcome.status, StepStatus::Failed | StepStatus::TimedOut) {
        outcome.status = StepStatus::Failed;
        outcome.error = Some(message);
    }
}

/// The action produced nothing to assert on: the step fails (or times out) and each of its
/// assertions is a failed test, so that a run's test count does not depend on its faults.
pub(crate) fn not_evaluated(
    outcome: &mut StepOutcome,
    step: &Step,
    message: String,
    timed_out: bool,
) {
    outcome.status = if timed_out {
        StepStatus::TimedOut
    } else {
        StepStatus::Failed
    };
    outcome.assertions = step
        .assertions
        .iter()
        .map(|expression| AssertionOutcome {
            expression: expression.clone(),
            passed: false,
            expected: None,
            actual: None,
            error: Some("not evaluated: the step did not get an answer".into()),
        })
        .collect();
    outcome.error = Some(message);
}
