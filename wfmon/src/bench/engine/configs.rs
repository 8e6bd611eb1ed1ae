//! The generated configurations, read through the real configuration path
//! (`wfmon_engine::config`), as `wfmon run` reads a file.

use std::fmt::Write as _;
use std::path::Path;

use wfmon_engine::config::Config;

use crate::exit::Failure;

/// The environment every generated workflow runs in.
pub const ENVIRONMENT: &str = "bench";

/// The one step of every generated workflow: `GET {{ base_url }}/`, expecting 200; with
/// `verify_tls: false` if `verify_tls` is false (the target is http, so that only changes how
/// the runner builds its HTTP client: without loading the system's CA certificates).
fn step(verify_tls: bool) -> String {
    let mut yaml = String::from(
        "    steps:\n      - name: get\n        http:\n          url: \"{{ base_url }}/\"\n",
    );
    if !verify_tls {
        yaml.push_str("          verify_tls: false\n");
    }
    yaml.push_str("        assert:\n          - status == 200\n");
    yaml
}

/// One unscheduled workflow, `ping`, for the throughput measurement.
pub fn single(base_url: &str, verify_tls: bool) -> String {
    let mut yaml = header(base_url, None);
    yaml.push_str("workflows:\n  - name: ping\n");
    yaml.push_str(&step(verify_tls));
    yaml
}

/// Scheduled workflows.
pub struct Scheduled<'a> {
    /// How many: `w00000`, `w00001`, ...
    pub count: usize,
    /// Their cron expression.
    pub expression: &'a str,
    /// `scheduler.concurrency`, if not the default.
    pub concurrency: Option<usize>,
    /// Whether their step verifies TLS certificates (the default).
    pub verify_tls: bool,
}

/// The configuration of `workflows`, against `base_url`.
pub fn scheduled(workflows: &Scheduled<'_>, base_url: &str) -> String {
    let mut yaml = header(base_url, workflows.concurrency.map(|n| n.clamp(1, 10_000)));
    if workflows.count == 0 {
        yaml.push_str("workflows: []\n");
    } else {
        yaml.push_str("workflows:\n");
    }
    let step = step(workflows.verify_tls);
    for i in 0..workflows.count {
        let _ = writeln!(
            yaml,
            "  - name: w{i:05}\n    schedule: \"{}\"",
            workflows.expression
        );
        yaml.push_str(&step);
    }
    yaml
}

fn header(base_url: &str, concurrency: Option<usize>) -> String {
    let mut yaml = String::new();
    if let Some(n) = concurrency {
        let _ = writeln!(yaml, "scheduler:\n  concurrency: {n}");
    }
    let _ = write!(
        yaml,
        "environments:\n  {ENVIRONMENT}:\n    variables:\n      base_url: {base_url}\n"
    );
    yaml
}

/// Validates generated YAML as a configuration file would be.
pub fn parse(yaml: &str, name: &str) -> Result<Config, Failure> {
    Config::parse(yaml, Path::new(name)).map_err(|e| {
        Failure::new(format!(
            "the generated configuration {name} is invalid: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_configurations_validate() {
        let config = parse(&single("http://127.0.0.1:9", true), "single.yaml").unwrap();
        assert_eq!(config.workflows.len(), 1);
        assert!(config.workflows[0].schedule.is_none());
        let unverified = parse(&single("http://127.0.0.1:9", false), "single.yaml").unwrap();
        let http = |c: &Config| match &c.workflows[0].steps[0].action {
            wfmon_engine::workflow::StepAction::Http(h) => h.verify_tls,
            _ => panic!("not an http step"),
        };
        assert!(http(&config));
        assert!(!http(&unverified));
        assert_eq!(
            config.environments[ENVIRONMENT].variables["base_url"],
            "http://127.0.0.1:9"
        );

        let workflows = Scheduled {
            count: 3,
            expression: "* * * * * *",
            concurrency: Some(3),
            verify_tls: true,
        };
        let config = parse(
            &scheduled(&workflows, "http://127.0.0.1:9"),
            "scheduled.yaml",
        )
        .unwrap();
        assert_eq!(config.workflows.len(), 3);
        assert_eq!(config.scheduler.concurrency, 3);
        assert!(config.workflows.iter().all(|w| w.schedule.is_some()));
        assert_eq!(config.workflows[2].name, "w00002");

        let workflows = Scheduled {
            count: 0,
            expression: "0 0 1 1 *",
            concurrency: None,
            verify_tls: true,
        };
        let config = parse(&scheduled(&workflows, "http://127.0.0.1:9"), "empty.yaml").unwrap();
        assert!(config.workflows.is_empty());
        assert_eq!(
            config.scheduler,
            wfmon_engine::config::SchedulerConfig::default()
        );
    }
}
