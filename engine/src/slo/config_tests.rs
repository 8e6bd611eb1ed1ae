use std::path::Path;
use std::time::Duration;

use crate::alerting::Condition;
use crate::config::{Config, ConfigError, ConfigIssue};
use crate::slo::{BurnCondition, FAST_BURN, Objective, SLOW_BURN};

const WORKFLOWS: &str = r#"
environments:
  production: {variables: {base_url: "https://shop.example.com"}}
  staging: {variables: {base_url: "https://staging.example.com"}}
  qa: {variables: {base_url: "https://qa.example.com"}}
workflows:
  - name: checkout
    schedule: "* * * * *"
    environments: [production, staging]
    steps:
      - name: order
        http: {url: "{{ base_url }}/order"}
  - name: login
    environments: [production]
    steps:
      - name: login
        http: {url: "{{ base_url }}/login"}
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(&format!("{WORKFLOWS}{text}"), Path::new("wfmon.yaml"))
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match parse(text) {
        Err(ConfigError::Issues(issues)) => issues,
        other => panic!("expected issues, got {other:?}"),
    }
}

/// The issue at `path`, which must exist.
fn at<'a>(found: &'a [ConfigIssue], path: &str) -> &'a ConfigIssue {
    found
        .iter()
        .find(|i| i.path == path)
        .unwrap_or_else(|| panic!("no issue at {path}: {found:#?}"))
}

#[test]
fn objectives_and_burn_rate_rules_read_into_their_types() {
    let config = parse(
        r#"
slos:
  - name: checkout-availability
    description: orders pass
    workflow: checkout
    objective: {success: 99.5%}
    window: 30d
  - name: login-latency
    workflow: login
    environment: production
    objective: {latency: {under: 2s, target: "99 %"}}
    window: 7d
alerts:
  rules:
    - name: checkout-fast-burn
      when: {burn_rate: {slo: checkout-availability, window: fast}}
    - name: checkout-slow-burn
      environments: [staging]
      when: {burn_rate: {slo: checkout-availability, window: slow}}
    - name: login-custom-burn
      when: {burn_rate: {slo: login-latency, long: 2h, short: 10m, factor: 10, min_runs: 3}}
"#,
    )
    .unwrap();
    let checkout = config.slo("checkout-availability").unwrap();
    assert_eq!(checkout.objective, Objective::Success { target: 0.995 });
    assert_eq!(checkout.window, Duration::from_secs(30 * 86_400));
    assert_eq!(checkout.environment, None);
    assert_eq!(
        checkout.environments(&config.workflows),
        ["production", "staging"],
        "each environment of the workflow"
    );
    let login = config.slo("login-latency").unwrap();
    assert_eq!(
        login.objective,
        Objective::Latency {
            threshold_ms: 2000,
            target: 0.99
        }
    );
    let fast = config.alerts.rule("checkout-fast-burn").unwrap();
    assert_eq!(
        fast.condition,
        Condition::BurnRate {
            slo: "checkout-availability".into(),
            burn: FAST_BURN
        }
    );
    // A burn-rate rule watches its objective's workflow; environments may narrow it.
    assert_eq!(fast.workflows, ["checkout"]);
    assert!(fast.environments.is_empty());
    let slow = config.alerts.rule("checkout-slow-burn").unwrap();
    assert!(matches!(slow.condition, Condition::BurnRate { burn, .. } if burn == SLOW_BURN));
    assert_eq!(slow.environments, ["staging"]);
    let custom = config.alerts.rule("login-custom-burn").unwrap();
    assert_eq!(
        custom.condition,
        Condition::BurnRate {
            slo: "login-latency".into(),
            burn: BurnCondition {
                long: Duration::from_secs(7200),
                short: Duration::from_secs(600),
                factor: 10.0,
                min_runs: 3
            }
        }
    );
    assert_eq!(custom.workflows, ["login"]);
    assert_eq!(custom.environments, ["production"], "the objective's own");
}

#[test]
fn bad_objectives_are_reported_with_their_key_paths() {
    let found = issues(
        r#"
slos:
  - name: a
    workflow: no-such-workflow
    objective: {success: 99%}
    window: 30d
  - name: b
    workflow: checkout
    environment: nowhere
    objective: {success: 100%}
    window: 30d
  - name: c
    workflow: checkout
    environment: qa
    objective: {success: 0%}
    window: thirty days
  - name: a
    workflow: login
    objective: {latency: {under: 0s, target: 150%}}
    window: 0s
  - name: e
    workflow: login
    objective: {success: 99.5}
    window: 91d
  - name: f
    workflow: login
    objective: {success: 99%, latency: {under: 1s, target: 99%}}
    window: 1d
  - name: g
    workflow: login
    objective: {success: ninety}
    window: 1d
"#,
    );
    let unknown = at(&found, "slos[0].workflow");
    assert!(
        unknown
            .message
            .contains("unknown workflow `no-such-workflow`")
    );
    assert!(unknown.line > 0, "points at the value: {unknown}");
    assert!(
        at(&found, "slos[1].environment")
            .message
            .contains("unknown environment `nowhere`")
    );
    assert!(
        at(&found, "slos[1].objective.success")
            .message
            .contains("below 100%")
    );
    assert!(
        at(&found, "slos[2].environment")
            .message
            .contains("does not run in `qa`")
    );
    assert!(
        at(&found, "slos[2].objective.success")
            .message
            .contains("above 0%")
    );
    assert!(at(&found, "slos[2].window").message.contains("thirty days"));
    assert!(
        at(&found, "slos[3].name")
            .message
            .contains("already defined")
    );
    assert!(
        at(&found, "slos[3].objective.latency.under")
            .message
            .contains("greater than zero")
    );
    assert!(
        at(&found, "slos[3].objective.latency.target")
            .message
            .contains("`150%`")
    );
    assert!(
        at(&found, "slos[3].window")
            .message
            .contains("greater than zero")
    );
    assert!(
        at(&found, "slos[4].objective.success")
            .message
            .contains("percentage")
    );
    assert!(at(&found, "slos[4].window").message.contains("90 days"));
    assert!(
        at(&found, "slos[5].objective")
            .message
            .contains("exactly one")
    );
    assert!(
        at(&found, "slos[6].objective.success")
            .message
            .contains("not a percentage")
    );
}

#[test]
fn bad_burn_rate_rules_are_reported_with_their_key_paths() {
    let found = issues(
        r#"
slos:
  - name: checkout-availability
    workflow: checkout
    environment: production
    objective: {success: 99%}
    window: 30d
alerts:
  rules:
    - name: r0
      when: {burn_rate: {slo: no-such-slo, window: fast}}
    - name: r1
      when: {burn_rate: {slo: checkout-availability, window: medium}}
    - name: r2
      when: {burn_rate: {slo: checkout-availability, window: fast, factor: 2}}
    - name: r3
      when: {burn_rate: {slo: checkout-availability, long: 5m, short: 1h, factor: 2}}
    - name: r4
      when: {burn_rate: {slo: checkout-availability, long: 1h, short: 5m}}
    - name: r5
      workflows: [login]
      environments: [staging]
      when: {burn_rate: {slo: checkout-availability, window: fast}}
    - name: r6
      when: {burn_rate: {slo: checkout-availability, long: 1h, short: 5m, factor: -1}}
    - name: r7
      when: {burn_rate: {slo: checkout-availability, window: fast, min_runs: 0}}
"#,
    );
    let unknown = at(&found, "alerts.rules[0].when.burn_rate.slo");
    assert!(
        unknown.message.contains("unknown SLO `no-such-slo`"),
        "{unknown}"
    );
    assert!(
        unknown.message.contains("checkout-availability"),
        "names the defined ones"
    );
    assert!(
        at(&found, "alerts.rules[1].when.burn_rate.window")
            .message
            .contains("`medium`")
    );
    assert!(
        at(&found, "alerts.rules[2].when.burn_rate")
            .message
            .contains("not both")
    );
    assert!(
        at(&found, "alerts.rules[3].when.burn_rate.short")
            .message
            .contains("shorter")
    );
    assert!(
        at(&found, "alerts.rules[4].when.burn_rate")
            .message
            .contains("factor")
    );
    assert!(
        at(&found, "alerts.rules[5].workflows")
            .message
            .contains("remove workflows")
    );
    assert!(
        at(&found, "alerts.rules[5].environments[0]")
            .message
            .contains("only `production`")
    );
    assert!(
        at(&found, "alerts.rules[6].when.burn_rate.factor")
            .message
            .contains("above 0")
    );
    assert!(
        at(&found, "alerts.rules[7].when.burn_rate.min_runs")
            .message
            .contains("at least 1")
    );
}

#[test]
fn objective_names_are_unique_across_files() {
    let first = (
        std::path::PathBuf::from("a.yaml"),
        format!(
            "{WORKFLOWS}slos:\n  - {{name: s, workflow: login, objective: {{success: 99%}}, window: 1d}}\n"
        ),
    );
    let second = (
        std::path::PathBuf::from("b.yaml"),
        "slos:\n  - {name: s, workflow: checkout, objective: {success: 99%}, window: 1d}\n"
            .to_owned(),
    );
    match Config::from_sources(&[first, second]) {
        Err(ConfigError::Issues(found)) => {
            let dup = at(&found, "slos[0].name");
            assert_eq!(dup.file, std::path::PathBuf::from("b.yaml"));
            assert!(dup.message.contains("already defined"), "{dup}");
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
}
