use std::path::Path;
use std::time::Duration;

use wfmon_model::{AlertSeverity, HealthStatus, Timestamp};

use crate::alerting::{Aggregate, Condition};
use crate::config::{Config, ConfigError, ConfigIssue};
use crate::notify::ChannelConfig;
use crate::notify::email::SmtpTls;

const WORKFLOWS: &str = r#"
environments:
  production: {variables: {base_url: "https://shop.example.com"}}
  staging: {variables: {base_url: "https://staging.example.com"}}
workflows:
  - name: user-login
    tags: [critical]
    schedule: "*/5 * * * *"
    steps:
      - name: login
        http: {url: "{{ base_url }}/login"}
  - name: health-check
    steps:
      - name: probe
        health: {url: "{{ base_url }}/api/health"}
"#;

const ALERTING: &str = r#"
notifications:
  dashboard_url: https://wfmon.example.com/
  routes:
    critical: [oncall, ops]
    WARNING: [ops]
  delivery: {timeout: 5s, attempts: 4, backoff: 1s, max_backoff: 1m, breaker_failures: 3, breaker_cooldown: 30s}
  channels:
    ops:
      slack: {webhook_url: "https://hooks.slack.com/services/T000/B000/XXXXSECRET"}
    chat:
      discord: {webhook_url: "https://discord.com/api/webhooks/1/abc"}
    teams:
      teams: {webhook_url: "https://example.webhook.office.com/workflows/1"}
    hook:
      webhook: {url: "https://hooks.example.com/wfmon", headers: {X-Team: ops}, secret: "s3cret-signing-key"}
    mail:
      email: {host: smtp.example.com, username: wfmon, password: "hunter2-password", from: "wfmon <wfmon@example.com>", to: [ops@example.com]}
    oncall:
      pagerduty: {routing_key: "R0UTINGKEY123"}
    log:
      console: {}
alerts:
  evaluate_every: 10s
  defaults:
    channels: [ops]
    remind_every: 2h
  rules:
    - name: login-failing
      workflows: [user-login]
      environments: [production]
      severity: critical
      when: {consecutive_failures: 3}
      recover_after: 2
      escalate_after: 30m
      escalate_to: [oncall]
      depends_on: [api-down]
    - name: flaky
      tags: [critical]
      when: {failures: 3, within_runs: 10}
    - name: failing-often
      when: {failures: 5, within: 1h}
    - name: slow
      when: {metric: duration_ms, above: 2000, over: p95, window: 30m}
      channels: [chat, hook]
    - name: api-down
      workflows: [health-check]
      when: {health: degraded}
    - name: silent
      when: {no_run_for: 15m}
      severity: INFO
  silences:
    - {rule: flaky, environment: staging, until: "2030-01-01T00:00:00Z", reason: known flaky}
  maintenance:
    - {name: weekly deploy, schedule: "0 2 * * SUN", duration: 2h, timezone: Europe/Paris, environments: [production]}
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("wfmon.yaml"))
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match parse(text) {
        Err(ConfigError::Issues(issues)) => issues,
        other => panic!("expected issues, got {other:?}"),
    }
}

fn with(extra: &str) -> String {
    format!("{WORKFLOWS}{extra}")
}

#[test]
fn a_complete_alerting_section_reads_into_rules_and_channels() {
    let config = parse(&with(ALERTING)).unwrap();
    let n = &config.notifications;
    assert_eq!(n.channels.len(), 7);
    assert_eq!(
        n.dashboard_url.as_deref(),
        Some("https://wfmon.example.com")
    );
    assert_eq!(n.routes[&AlertSeverity::Critical], vec!["oncall", "ops"]);
    assert_eq!(n.delivery.attempts, 4);
    assert_eq!(n.delivery.breaker_cooldown, Duration::from_secs(30));
    match &n.channels["mail"] {
        ChannelConfig::Email(e) => {
            assert_eq!((e.port, e.tls), (587, SmtpTls::StartTls));
            assert_eq!(e.to, vec!["ops@example.com"]);
        }
        other => panic!("{other:?}"),
    }
    match &n.channels["hook"] {
        ChannelConfig::Webhook(w) => {
            assert_eq!(w.headers, vec![("X-Team".into(), "ops".into())]);
            assert!(w.secret.is_some());
        }
        other => panic!("{other:?}"),
    }
    let a = &config.alerts;
    assert_eq!(a.evaluate_every, Duration::from_secs(10));
    assert_eq!(a.rules.len(), 6);
    let login = a.rule("login-failing").unwrap();
    assert_eq!(login.severity, AlertSeverity::Critical);
    assert_eq!(login.condition, Condition::ConsecutiveFailures(3));
    assert_eq!(login.recover_after, 2);
    assert_eq!(login.channels, vec!["ops"], "from the defaults");
    assert_eq!(login.escalate_to, vec!["oncall"]);
    assert_eq!(login.remind_every, Some(Duration::from_secs(7200)));
    assert_eq!(login.depends_on, vec!["api-down"]);
    assert_eq!(
        a.rule("flaky").unwrap().condition,
        Condition::FailuresInRuns {
            failures: 3,
            runs: 10
        }
    );
    assert_eq!(
        a.rule("failing-often").unwrap().condition,
        Condition::FailuresInWindow {
            failures: 5,
            window: Duration::from_secs(3600)
        }
    );
    assert_eq!(
        a.rule("slow").unwrap().condition,
        Condition::Threshold {
            metric: "duration_ms".into(),
            above: 2000.0,
            over: Aggregate::P95(Duration::from_secs(1800))
        }
    );
    assert_eq!(
        a.rule("slow").unwrap().severity,
        AlertSeverity::Warning,
        "default severity"
    );
    assert_eq!(
        a.rule("api-down").unwrap().condition,
        Condition::Health(HealthStatus::Degraded)
    );
    assert_eq!(
        a.rule("silent").unwrap().condition,
        Condition::Absent(Duration::from_secs(900))
    );
    assert_eq!(a.silences[0].reason, "known flaky");
    let window = &a.maintenance[0];
    // Sunday 2026-11-29 02:30 in Paris is 01:30 UTC.
    let inside = Timestamp::parse("2026-11-29T01:30:00.000Z").unwrap();
    let outside = Timestamp::parse("2026-11-29T04:30:00.000Z").unwrap();
    assert!(window.covers("user-login", "production", inside));
    assert!(!window.covers("user-login", "production", outside));
    assert!(!window.covers("user-login", "staging", inside));
}

#[test]
fn channel_secrets_are_redacted_from_messages() {
    let config = parse(&with(ALERTING)).unwrap();
    for secret in [
        "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
        "hunter2-password",
        "s3cret-signing-key",
        "R0UTINGKEY123",
    ] {
        let text = format!("failed: {secret}");
        assert_eq!(config.redact(&text), "failed: ***", "{secret}");
    }
}

#[test]
fn bad_channels_and_rules_are_reported_with_their_key_paths() {
    let text = with(
        r#"
notifications:
  routes:
    LOUD: [ops]
  channels:
    ops:
      slack: {}
    mail:
      email: {host: smtp.example.com, from: "not an address", to: [ops@example.com, "@bad"]}
    hook:
      webhook: {url: "ftp://example.com/x"}
    both:
      slack: {webhook_url: "https://hooks.slack.com/x"}
      console: {}
alerts:
  rules:
    - name: r1
      workflows: [no-such-workflow]
      severity: urgent
      channels: [ops, nowhere]
      when: {consecutive_failures: 2}
    - name: r2
      tags: [critical, no-such-tag]
      when: {failures: 2}
    - name: r3
      when: {consecutive_failures: 1, health: UNHEALTHY}
      depends_on: [r9]
"#,
    );
    let found = issues(&text);
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "notifications.routes.LOUD",
        "notifications.channels.ops.slack.webhook_url",
        "notifications.channels.mail.email.from",
        "notifications.channels.mail.email.to[1]",
        "notifications.channels.hook.webhook.url",
        "notifications.channels.both",
        "alerts.rules[0].workflows[0]",
        "alerts.rules[0].severity",
        "alerts.rules[0].channels[1]",
        "alerts.rules[1].when.failures",
        "alerts.rules[1].tags[1]",
        "alerts.rules[2].when",
        "alerts.rules[2].depends_on[0]",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:#?}");
    }
    let missing = found
        .iter()
        .find(|i| i.path == "notifications.channels.ops.slack.webhook_url")
        .unwrap();
    assert!(missing.line > 0, "points at the channel: {missing}");
    assert!(missing.message.contains("missing"), "{missing}");
    let severity = found
        .iter()
        .find(|i| i.path == "alerts.rules[0].severity")
        .unwrap();
    assert!(severity.message.contains("`urgent`"), "{severity}");
    assert!(severity.message.contains("CRITICAL"), "{severity}");
    let channel = found
        .iter()
        .find(|i| i.path == "alerts.rules[0].channels[1]")
        .unwrap();
    assert!(
        channel.message.contains("unknown channel `nowhere`"),
        "{channel}"
    );
    let tag = found
        .iter()
        .find(|i| i.path == "alerts.rules[1].tags[1]")
        .unwrap();
    assert!(tag.message.contains("unknown tag `no-such-tag`"), "{tag}");
    assert!(tag.line > 0, "points at the tag: {tag}");
    assert!(
        !paths.contains(&"alerts.rules[1].tags[0]"),
        "`critical` is a workflow's tag: {paths:#?}"
    );
}

#[test]
fn a_missing_secret_names_the_variable_and_never_a_value() {
    let text = with(
        r#"
notifications:
  channels:
    ops:
      slack: {webhook_url: "${WFMON_TEST_SURELY_UNSET_SLACK_URL}"}
"#,
    );
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].path,
        "notifications.channels.ops.slack.webhook_url"
    );
    assert!(
        found[0]
            .message
            .contains("WFMON_TEST_SURELY_UNSET_SLACK_URL")
    );
}

#[test]
fn without_the_sections_nothing_alerts() {
    let config = parse(WORKFLOWS).unwrap();
    assert!(config.alerts.rules.is_empty());
    assert!(config.notifications.channels.is_empty());
}

#[test]
fn a_cycle_of_depends_on_is_refused_with_the_cycle() {
    let text = with(
        r#"
alerts:
  rules:
    - {name: a, when: {consecutive_failures: 1}, depends_on: [b]}
    - {name: b, when: {consecutive_failures: 1}, depends_on: [c]}
    - {name: c, when: {consecutive_failures: 1}, depends_on: [a]}
    - {name: d, when: {consecutive_failures: 1}, depends_on: [a, b]}
"#,
    );
    let found = issues(&text);
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "alerts.rules[0].depends_on[0]",
            "alerts.rules[1].depends_on[0]",
            "alerts.rules[2].depends_on[0]",
        ],
        "{found:#?}"
    );
    assert!(found[0].message.contains("a → b → c → a"), "{}", found[0]);
    assert!(found[0].line > 0, "points at the dependency: {}", found[0]);

    // A chain, and two rules depending on one, are no cycle.
    let chain = parse(&with(
        r#"
alerts:
  rules:
    - {name: a, when: {consecutive_failures: 1}}
    - {name: b, when: {consecutive_failures: 1}, depends_on: [a]}
    - {name: c, when: {consecutive_failures: 1}, depends_on: [a, b]}
"#,
    ))
    .unwrap();
    assert_eq!(chain.alerts.rules.len(), 3);
}
