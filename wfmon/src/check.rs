//! `wfmon check WORKFLOW [--env E]`: runs one workflow now, prints each step and assertion as
//! it goes, records the run (triggered MANUAL), and exits non-zero on failure, so that it
//! also serves as a gate in CI pipelines.

use std::io::{IsTerminal, Write};

use wfmon_engine::executor::{Attempt, Recording, execute};
use wfmon_engine::recorder::RunIdentity;
use wfmon_engine::runner::{RunObserver, StepOutcome};
use wfmon_model::{StepStatus, TriggeredBy, new_id};
use wfmon_store::{OpenMode, Store};

use crate::cli::{CheckArgs, Cli};
use crate::exit::Failure;

/// Runs the command.
pub async fn run(cli: &Cli, args: &CheckArgs) -> Result<(), Failure> {
    let config = crate::config_cmd::load(cli.config.as_deref())?;
    let Some(workflow) = config.workflow(&args.workflow) else {
        let known: Vec<&str> = config.workflows.iter().map(|w| w.name.as_str()).collect();
        return Err(Failure::new(format!(
            "no workflow `{}` in the configuration (known: {})",
            args.workflow,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let environments: Vec<&str> = match &args.env {
        Some(env) if workflow.environments.contains(env) => vec![env.as_str()],
        Some(env) => {
            return Err(Failure::new(format!(
                "workflow `{}` does not run in environment `{env}` (it runs in: {})",
                workflow.name,
                workflow.environments.join(", ")
            )));
        }
        None => workflow.environments.iter().map(String::as_str).collect(),
    };
    let store = if args.no_record {
        None
    } else {
        let url = crate::db::database_url(cli, Some(&config))?;
        Some(Store::open(&url, OpenMode::Create).await.map_err(|e| {
            let failure = Failure::from(e);
            Failure::with_code(
                format!(
                    "{} (use --no-record to run without a database)",
                    failure.message()
                ),
                failure.code(),
            )
        })?)
    };
    let printer = Printer {
        json: args.json,
        color: !args.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let instance = format!("cli-{}", wfmon_engine::scheduler::default_instance_id());
    let mut all: Vec<Attempt> = Vec::new();
    let mut failed = false;
    for env_name in environments {
        let environment = &config.environments[env_name];
        let identity = RunIdentity {
            run_id: new_id("run"),
            workflow: workflow.name.clone(),
            environment: env_name.to_owned(),
            triggered_by: TriggeredBy::Manual,
            attempt: 1,
            first_run_id: None,
            schedule_id: None,
            instance_id: instance.clone(),
            due_at: None,
        };
        printer.line(&format!(
            "{} {} in {} ({})",
            printer.paint("1", "▶"),
            workflow.name,
            env_name,
            identity.run_id
        ));
        let (attempts, errors) = execute(
            &config,
            workflow,
            environment,
            identity,
            match &store {
                Some(store) => Recording::Direct(store),
                None => Recording::Off,
            },
            &printer,
            None,
        )
        .await;
        for e in &errors {
            eprintln!("error: {e}");
        }
        for (i, a) in attempts.iter().enumerate() {
            let o = &a.outcome;
            let verdict = if o.status.is_success() {
                printer.paint("32", o.status.as_str())
            } else {
                printer.paint("31", o.status.as_str())
            };
            let retry = if attempts.len() > 1 {
                format!(" (attempt {} of {})", i + 1, attempts.len())
            } else {
                String::new()
            };
            printer.line(&format!(
                "{verdict} in {} ms, {}/{} tests passed{retry}{}",
                o.duration_ms,
                o.tests_passed,
                o.tests_total,
                o.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        let last_ok = attempts
            .last()
            .is_some_and(|a| a.outcome.status.is_success());
        failed |= !last_ok || !errors.is_empty();
        all.extend(attempts);
    }
    if let Some(store) = &store {
        store.close().await;
    }
    if args.json {
        let runs: Vec<_> = all
            .iter()
            .map(|a| {
                serde_json::json!({
                    "runId": a.identity.run_id,
                    "workflow": a.identity.workflow,
                    "environment": a.identity.environment,
                    "attempt": a.identity.attempt,
                    "outcome": a.outcome,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"passed": !failed, "runs": runs}))
                .expect("JSON")
        );
    }
    if failed {
        Err(Failure::with_code("", 1))
    } else {
        Ok(())
    }
}

/// Prints steps and assertions as they finish (nothing in JSON mode until the end).
struct Printer {
    json: bool,
    color: bool,
}

impl Printer {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn line(&self, text: &str) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }
}

impl RunObserver for Printer {
    fn step_finished(&self, s: &StepOutcome) {
        let mark = match s.status {
            StepStatus::Passed => self.paint("32", "✓"),
            StepStatus::Warning => self.paint("33", "!"),
            StepStatus::Skipped => self.paint("2", "-"),
            StepStatus::Failed | StepStatus::TimedOut => self.paint("31", "✗"),
        };
        let http = s.http_status.map(|c| format!(" {c}")).unwrap_or_default();
        let cleanup = if s.is_cleanup { " (cleanup)" } else { "" };
        let mut text = format!("  {mark} {}{cleanup}{http} {} ms", s.name, s.duration_ms);
        if s.status == StepStatus::Skipped || s.status == StepStatus::TimedOut {
            text.push_str(&format!(" [{}]", s.status));
        }
        if !s.captured.is_empty() {
            text.push_str(&format!(" captured: {}", s.captured.join(", ")));
        }
        self.line(&text);
        for a in &s.assertions {
            let mark = if a.passed {
                self.paint("32", "✓")
            } else {
                self.paint("31", "✗")
            };
            let mut detail = String::new();
            if !a.passed {
                if let Some(e) = &a.error {
                    detail = format!(": {e}");
                } else if a.expected.is_some() || a.actual.is_some() {
                    detail = format!(
                        ": expected {}, got {}",
                        a.expected.as_deref().unwrap_or("?"),
                        a.actual.as_deref().unwrap_or("?")
                    );
                }
            }
            self.line(&format!("      {mark} {}{detail}", a.expression));
        }
        for t in &s.tests {
            let mark = if t.skipped {
                self.paint("2", "-")
            } else if t.passed {
                self.paint("32", "✓")
            } else {
                self.paint("31", "✗")
            };
            self.line(&format!("      {mark} {}", t.name));
        }
        if let Some(e) = &s.error
            && s.assertions.iter().all(|a| a.passed)
        {
            self.line(&format!("      {}", self.paint("31", e)));
        }
    }
}
