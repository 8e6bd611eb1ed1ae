use std::path::Path;

use super::*;
use crate::workflow::{CaptureSource, RequestBody, StepAction};

const GOOD: &str = r#"
storage:
  url: sqlite://wfmon.db
scheduler:
  concurrency: 4
environments:
  production:
    variables:
      base_url: https://shop.example.com
  staging:
    description: pre-release
    variables:
      base_url: https://staging.shop.example.com
workflows:
  - name: user-login
    schedule: "*/5 * * * *"
    timezone: Europe/Paris
    timeout: 1m
    retries: {attempts: 3, backoff: exponential, initial: 2s, max: 10s}
    variables:
      email: farmer@example.com
    thresholds:
      - {metric: total_duration, max: 2000}
    steps:
      - name: login
        http:
          method: post
          url: "{{ base_url }}/api/login"
          json: {email: "{{ email }}", password: "pw"}
        assert:
          - status == 200
          - body.user.role == "farmer"
        capture:
          token: $.token
          session: header:Set-Cookie
      - name: profile
        http:
          url: "{{ base_url }}/api/me"
          headers: {Authorization: "Bearer {{ token }}"}
        timeout: 5s
      - name: health
        health: {url: "{{ base_url }}/api/health", degraded_after: 500ms}
    cleanup:
      - name: logout
        http: {method: POST, url: "{{ base_url }}/api/logout", headers: {Authorization: "Bearer {{ token }}"}}
  - name: e2e
    environments: [staging]
    steps:
      - name: playwright
        command: {run: [npx, playwright, test], junit: results.xml}
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

#[test]
fn a_complete_configuration_reads_into_workflows() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.storage.url.as_deref(), Some("sqlite://wfmon.db"));
    assert_eq!(config.scheduler.concurrency, 4);
    assert_eq!(config.environments.len(), 2);
    let login = config.workflow("user-login").unwrap();
    assert_eq!(
        login.environments,
        vec!["production", "staging"],
        "all environments by default"
    );
    assert_eq!(login.timeout, Duration::from_secs(60));
    assert_eq!(login.retries.attempts, 3);
    assert_eq!(login.retries.delay_before(2), Duration::from_secs(2));
    assert_eq!(login.retries.delay_before(3), Duration::from_secs(4));
    assert_eq!(login.retries.delay_before(9), Duration::from_secs(10));
    let schedule = login.schedule.as_ref().unwrap();
    assert_eq!(schedule.timezone, chrono_tz::Europe::Paris);
    let after = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:02:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        schedule.next_after(after).unwrap().to_rfc3339(),
        "2026-01-01T10:05:00+00:00"
    );
    assert_eq!(login.steps.len(), 3);
    assert_eq!(login.cleanup.len(), 1);
    let StepAction::Http(req) = &login.steps[0].action else {
        panic!()
    };
    assert_eq!(req.method, "POST");
    assert!(matches!(req.body, Some(RequestBody::Json(_))));
    assert_eq!(login.steps[0].assertions.len(), 2);
    assert!(
        matches!(login.steps[0].captures[0].source, CaptureSource::Header(ref h) if h == "set-cookie")
    );
    assert!(matches!(
        login.steps[0].captures[1].source,
        CaptureSource::JsonPath(_)
    ));
    assert_eq!(login.steps[1].timeout, Duration::from_secs(5));
    assert_eq!(login.steps[0].timeout, Duration::from_secs(30));
    let StepAction::Health(h) = &login.steps[2].action else {
        panic!()
    };
    assert_eq!(
        (h.expected_status, h.degraded_after),
        (200, Some(Duration::from_millis(500)))
    );
    let e2e = config.workflow("e2e").unwrap();
    assert!(e2e.schedule.is_none());
    assert_eq!(e2e.environments, vec!["staging"]);
}

#[test]
fn unknown_keys_are_errors_with_a_location() {
    let err = parse("storage:\n  urll: sqlite://x.db\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("wfmon.yaml"), "{err}");
    assert!(err.contains("urll"), "{err}");
    assert!(err.contains('2'), "line number expected: {err}");
    let err = parse("workflows:\n  - name: a\n    stepz: []\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("stepz"), "{err}");
}

#[test]
fn bad_values_are_each_reported_with_file_line_column_and_key_path() {
    let text = r#"
environments:
  production: {variables: {base_url: "http://127.0.0.1:1"}}
workflows:
  - name: a
    schedule: "*/5 25 * * *"
    timeout: 5 minutes
    environments: [production, moon]
    steps:
      - name: s
        http: {url: "{{ base_url }}/x", method: FETCH}
        assert: ["status ==", "status == 200"]
        capture: {id: "$[", tok: "jsonpath:x"}
  - name: a
    steps:
      - name: t
        http: {url: "ftp://x"}
        health: {url: "http://x"}
"#;
    let found = issues(text);
    let find = |path: &str| {
        found
            .iter()
            .find(|i| i.path == path)
            .unwrap_or_else(|| panic!("no issue at {path}: {found:#?}"))
    };
    let cron = find("workflows[0].schedule");
    assert_eq!((cron.line, cron.column), (6, 15), "{cron}");
    assert!(cron.message.contains("*/5 25"), "{cron}");
    assert!(find("workflows[0].timeout").message.contains("5 minutes"));
    assert!(
        find("workflows[0].environments[1]")
            .message
            .contains("unknown environment `moon`")
    );
    assert!(
        find("workflows[0].steps[0].http.method")
            .message
            .contains("FETCH")
    );
    assert!(
        find("workflows[0].steps[0].assert[0]")
            .message
            .contains("status ==")
    );
    assert!(
        find("workflows[0].steps[0].capture.id")
            .message
            .contains("JSONPath")
    );
    assert!(
        find("workflows[0].steps[0].capture.tok")
            .message
            .contains("header:NAME")
    );
    let dup = find("workflows[1].name");
    assert!(
        dup.message.contains("already defined at wfmon.yaml:5:"),
        "{dup}"
    );
    assert!(
        !found
            .iter()
            .any(|i| i.path.starts_with("workflows[0].steps[0].assert[1]"))
    );
    let shown = ConfigError::Issues(found.clone()).to_string();
    assert!(
        shown.contains("wfmon.yaml:6:15: workflows[0].schedule:"),
        "{shown}"
    );
}

#[test]
fn a_step_needs_exactly_one_kind() {
    let found = issues(
        "workflows:\n  - name: a\n    steps:\n      - name: s\n        http: {url: \"http://x\"}\n        health: {url: \"http://x\"}\n",
    );
    assert!(
        found[0]
            .message
            .contains("exactly one of http, command or health"),
        "{found:?}"
    );
    let found = issues("workflows:\n  - name: a\n    steps: []\n");
    assert!(found[0].message.contains("at least one step"), "{found:?}");
}

#[test]
fn variables_must_be_defined_in_every_environment_or_captured_earlier() {
    let text = r#"
environments:
  production: {variables: {base_url: "http://p", api_key: k}}
  staging: {variables: {base_url: "http://s"}}
workflows:
  - name: w
    steps:
      - name: first
        http: {url: "{{ base_url }}/a", headers: {X-Key: "{{ api_key }}", X-Token: "{{ token }}"}}
        capture: {token: $.token}
      - name: second
        http: {url: "{{ base_url }}/b", headers: {X-Token: "{{ token }}"}}
"#;
    let found = issues(text);
    let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`api_key`") && m.contains("environment `staging`")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`token`") && m.contains("steps[0]")),
        "captured only after: {messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("steps[1]")),
        "captured before use: {messages:#?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("`api_key`") && m.contains("`production`")),
        "{messages:#?}"
    );
}

/// The messages of the undefined-variable problems, as `path: variable`.
fn undefined_variables(found: &[ConfigIssue]) -> Vec<String> {
    found
        .iter()
        .filter(|i| i.message.contains("is not defined for environment"))
        .map(|i| {
            let var = i.message.split('`').nth(1).unwrap_or_default();
            format!("{}:{}: {}: {var}", i.line, i.column, i.path)
        })
        .collect()
}

#[test]
fn undefined_variables_are_reported_beside_the_workflows_other_problems() {
    let text = r#"
environments:
  production: {variables: {base_url: "http://p"}}
workflows:
  - name: shop
    schedule: "* * * *"
    steps:
      - name: login
        http: {url: "{{ base_url }}/login"}
        capture: {token: $.token}
      - name: login
        http: {url: "{{ base_url }}/me", headers: {A: "Bearer {{ token }}", X-Id: "{{ missing }}"}}
"#;
    let found = issues(text);
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "workflows[0].schedule",
            "workflows[0].steps[1].name",
            "workflows[0].steps[1]",
        ],
        "{found:#?}"
    );
    assert_eq!(
        undefined_variables(&found),
        ["11:15: workflows[0].steps[1]: missing"]
    );
}

#[test]
fn other_problems_cause_no_undefined_variable_problems() {
    // Each step below has a problem of its own; the only undefined variables are `missing`,
    // `nojson` and `gone`. A step that cannot be read refers to nothing but its captures
    // count, as do the captures of a step with a duplicate name or a faulty source; a value
    // that is not a valid template refers to nothing; the unknown environment is not checked.
    let text = r#"
environments:
  production: {variables: {base_url: "http://p"}}
workflows:
  - name: shop
    environments: [production, moon]
    timezone: Mars/Olympus
    steps:
      - name: no-kind
        capture: {order: $.id}
      - name: two-kinds
        http: {url: "{{ nowhere }}/a"}
        health: {url: "{{ nowhere }}/b"}
        capture: {cart: $.cart}
      - name: bad-source
        http: {url: "{{ base_url }}/login"}
        capture: {token: "$[", session: "nope"}
      - name: bad-source
        http:
          url: "{{ base_url }}/x {{ unclosed"
          headers: {A: "{{ bad name }}"}
          json: {a: "{{ x", b: "{{ nojson }}"}
        capture: {user: $.user}
      - name: uses
        http: {url: "{{ base_url }}/{{ order }}/{{ cart }}/{{ user }}", headers: {T: "{{ token }} {{ session }}"}}
        timeout: soon
      - name: last
        command: {run: [echo, "{{ missing }}"]}
    cleanup:
      - name: out
        http: {url: "{{ base_url }}/out?{{ token }}&{{ user }}&{{ order }}&{{ cart }}&{{ gone }}"}
"#;
    let found = issues(text);
    assert_eq!(
        undefined_variables(&found),
        [
            "18:15: workflows[0].steps[3]: nojson",
            "27:15: workflows[0].steps[5]: missing",
            "30:15: workflows[0].cleanup[0]: gone",
        ],
        "{found:#?}"
    );
    assert_eq!(found.len(), 14, "{found:#?}");
}

#[test]
fn a_step_cannot_use_its_own_capture_even_when_its_workflow_has_other_problems() {
    let found = issues(
        "workflows:\n  - name: w\n    timeout: soon\n    steps:\n      - name: s\n        http: {url: \"http://x/{{ id }}\"}\n        capture: {id: $.id}\n",
    );
    assert_eq!(
        undefined_variables(&found),
        ["5:15: workflows[0].steps[0]: id"],
        "{found:#?}"
    );
}

#[test]
fn a_cleanup_step_can_use_the_capture_of_an_earlier_cleanup_step() {
    // As the runner runs them: cleanup steps in order, after the main steps, sharing their
    // variables. `token` comes from the first cleanup step; `late` only from a later one.
    let found = issues(
        "workflows:\n  - name: w\n    timeout: soon\n    steps:\n      - name: s\n        http: {url: \"http://x/\"}\n    cleanup:\n      - name: login\n        http: {url: \"http://x/login\"}\n        capture: {token: $.token}\n      - name: delete\n        http: {url: \"http://x/{{ token }}/{{ late }}\"}\n      - name: last\n        http: {url: \"http://x/\"}\n        capture: {late: $.late}\n",
    );
    assert_eq!(
        undefined_variables(&found),
        ["11:15: workflows[0].cleanup[1]: late"],
        "{found:#?}"
    );
}

#[test]
fn environment_references_expand_and_are_remembered_as_secrets() {
    // SAFETY: the variable names are unique to this test.
    unsafe { std::env::set_var("WFMON_TEST_CONFIG_PW", "s3cret-pw") };
    let config = parse(
        "storage: {url: \"postgres://u:${WFMON_TEST_CONFIG_PW}@h/db\"}\nenvironments:\n  production: {variables: {password: \"${WFMON_TEST_CONFIG_PW}\"}}\n",
    )
    .unwrap();
    assert_eq!(
        config.storage.url.as_deref(),
        Some("postgres://u:s3cret-pw@h/db")
    );
    assert_eq!(
        config.environments["production"].variables["password"],
        "s3cret-pw"
    );
    assert_eq!(
        config.redact("login failed for s3cret-pw"),
        "login failed for ***"
    );
    let found = issues(
        "environments:\n  production: {variables: {password: \"${WFMON_TEST_UNSET_VAR}\"}}\n",
    );
    assert!(
        found[0].message.contains("WFMON_TEST_UNSET_VAR is not set"),
        "{found:?}"
    );
    assert!(expand_env("${oops").is_err());
}

#[test]
fn a_folder_of_files_is_one_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("00-env.yaml"),
        "environments:\n  production: {variables: {base_url: \"http://x\"}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("10-a.yaml"),
        "workflows:\n  - name: a\n    steps: [{name: s, http: {url: \"{{ base_url }}\"}}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20-b.yml"),
        "workflows:\n  - name: b\n    steps: [{name: s, http: {url: \"{{ base_url }}\"}}]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let config = Config::load(dir.path()).unwrap();
    assert_eq!(
        config
            .workflows
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    std::fs::write(
        dir.path().join("30-dup.yaml"),
        "workflows:\n  - name: a\n    steps: [{name: s, http: {url: \"http://y\"}}]\n",
    )
    .unwrap();
    let err = Config::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("30-dup.yaml:2:") && err.contains("10-a.yaml:2:"),
        "{err}"
    );
}

#[test]
fn an_invalid_assertion_says_where_in_the_expression() {
    let found = issues(
        "workflows:\n  - name: w\n    steps:\n      - name: s\n        http: {url: \"http://x/\"}\n        assert: [\"status == 200 &&\"]\n",
    );
    let problem = found
        .iter()
        .find(|i| i.path == "workflows[0].steps[0].assert[0]")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert!(
        problem.message.starts_with(
            "`status == 200 &&` is not a valid expression: syntax error at character 17: "
        ),
        "{problem}"
    );
    assert!(!problem.message.contains("<input>"), "{problem}");
}

#[test]
fn cron_accepts_five_or_six_fields_only() {
    assert!(validate::parse_cron("*/5 * * * *").is_ok());
    assert!(validate::parse_cron("*/10 * * * * *").is_ok());
    assert!(
        validate::parse_cron("* * * *")
            .unwrap_err()
            .contains("4 fields")
    );
    assert!(validate::parse_cron("0 0 0 1 1 * 2030").is_err());
    assert!(validate::parse_cron("0 25 * * *").is_err());
    // Out-of-range numbers are named with their field and range.
    for (expression, says) in [
        ("0 25 * * *", "hour 25 is outside 0-23"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("*/5 * * * * *", ""),
        ("75 * * * * *", "second 75 is outside 0-59"),
        ("0 0 0 * *", "day of month 0 is outside 1-31"),
        ("0 0 1 1-13 *", "month 13 is outside 1-12"),
        ("0 0 * * 1,8", "day of week 8 is outside 0-7"),
        (
            "*/0 * * * *",
            "the step of the minute field must be at least 1",
        ),
    ] {
        match validate::parse_cron(expression) {
            Ok(_) => assert!(says.is_empty(), "{expression} accepted"),
            Err(message) => assert!(
                !says.is_empty() && message.contains(says),
                "{expression}: {message}"
            ),
        }
    }
    assert!(validate::parse_cron("0 9 * * MON-FRI").is_ok());
    assert!(validate::parse_cron("0 0 L * *").is_ok());
}

#[test]
fn server_listen_reads_an_address_and_names_a_bad_one() {
    let config = parse("server: {listen: \"0.0.0.0:9090\"}\n").unwrap();
    assert_eq!(config.server.listen, Some("0.0.0.0:9090".parse().unwrap()));
    let config = parse("server: {listen: \"localhost:8181\"}\n").unwrap();
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:8181".parse().unwrap())
    );
    let config = parse("server: {listen: \"[::1]:0\"}\n").unwrap();
    assert_eq!(config.server.listen, Some("[::1]:0".parse().unwrap()));
    assert_eq!(parse("").unwrap().server.listen, None, "not configured");
    assert_eq!(DEFAULT_LISTEN.to_string(), "127.0.0.1:8080");
    for bad in ["8080", "example.com:80", "127.0.0.1:99999", "127.0.0.1"] {
        let found = issues(&format!("\nserver:\n  listen: \"{bad}\"\n"));
        let issue = found
            .iter()
            .find(|i| i.path == "server.listen")
            .unwrap_or_else(|| panic!("no issue for {bad}: {found:#?}"));
        assert_eq!((issue.line, issue.column), (3, 11), "{issue}");
        assert!(issue.message.contains(bad), "{issue}");
        assert!(issue.message.contains("IP:PORT"), "{issue}");
    }
    let err = parse("server: {port: 80}\n").unwrap_err().to_string();
    assert!(err.contains("port"), "unknown key named: {err}");
}

#[test]
fn server_listen_is_set_in_one_file_only() {
    let sources = [
        (
            std::path::PathBuf::from("a.yaml"),
            "server: {listen: \"127.0.0.1:1\"}\n".to_owned(),
        ),
        (
            std::path::PathBuf::from("b.yaml"),
            "server: {listen: \"127.0.0.1:2\"}\n".to_owned(),
        ),
    ];
    let err = Config::from_sources(&sources).unwrap_err().to_string();
    assert!(
        err.contains("b.yaml") && err.contains("more than one file"),
        "{err}"
    );
}

#[test]
fn server_auth_reads_its_settings_and_names_bad_ones() {
    let config = parse("").unwrap();
    assert_eq!(config.server.auth, AuthConfig::default());
    assert_eq!(config.server.auth.enabled, None, "the command decides");
    let config = parse(
        "server:\n  public_url: \"https://wfmon.example.com/\"\n  auth: {enabled: false, \
         session_lifetime: 2h, metrics_open: true}\n",
    )
    .unwrap();
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://wfmon.example.com")
    );
    assert_eq!(config.server.auth.enabled, Some(false));
    assert!(config.server.auth.metrics_open);
    assert_eq!(
        config.server.auth.session_lifetime,
        std::time::Duration::from_secs(7200)
    );
    let found = issues("server:\n  auth: {session_lifetime: 10s}\n");
    assert!(
        found
            .iter()
            .any(|i| i.path == "server.auth.session_lifetime" && i.message.contains("1m")),
        "{found:?}"
    );
    let found = issues("server:\n  public_url: \"wfmon.example.com\"\n");
    assert!(
        found.iter().any(|i| i.path == "server.public_url"),
        "{found:?}"
    );
    assert!(
        parse("server: {auth: {open: true}}\n").is_err(),
        "unknown key"
    );
}

#[test]
fn every_unknown_key_is_reported_with_its_place_and_key_path_and_the_rest_is_still_checked() {
    let text = "storage:
  url: sqlite://x.db
  foo: bar
environments:
  production:
    variables:
      base_url: http://x
    colour: red
workflows:
  - name: a
    schedule: \"61 * * * *\"
    steps:
      - name: s1
        http:
          url: \"{{ base_url }}/x\"
          timeout: 3s
";
    let found = issues(text);
    let unknown: Vec<(u64, u64, &str)> = found
        .iter()
        .filter(|i| i.message.starts_with("unknown key"))
        .map(|i| (i.line, i.column, i.path.as_str()))
        .collect();
    assert_eq!(
        unknown,
        vec![
            (3, 3, "storage.foo"),
            (8, 5, "environments.production.colour"),
            (16, 11, "workflows[0].steps[0].http.timeout"),
        ],
        "{found:#?}"
    );
    let foo = &found[0];
    assert!(
        foo.message.contains("`foo`") && foo.message.contains("url"),
        "{foo}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.path == "workflows[0].schedule" && (i.line, i.column) == (11, 15)),
        "the cron expression is checked too: {found:#?}"
    );
    let shown = ConfigError::Issues(found).to_string();
    assert!(
        shown.contains("wfmon.yaml:3:3: storage.foo: unknown key `foo`"),
        "{shown}"
    );
    assert!(
        !shown.contains("<input>") && !shown.contains("error: line"),
        "{shown}"
    );
}

#[test]
fn unknown_keys_inside_every_section_are_reported() {
    let text = "workflows:
  - name: w
    retries: {attempts: 2, jitter: yes}
    steps: [{name: s, http: {url: \"http://x\", json: {any: {key: 1}}}, retry: 1}]
notifications:
  channels:
    ops: {slack: {webhook_url: \"https://x\", foo: 1}, slak: {}}
alerts:
  rules:
    - name: r
      when: {failures: 2, within_runs: 3, oops: 1}
slos:
  - {name: o, workflow: w, objective: {success: 99%, extra: 1}, window: 1d}
reports:
  - {name: daily, schedule: daily, format: html}
";
    let found = issues(text);
    let unknown: Vec<&str> = found
        .iter()
        .filter(|i| i.message.starts_with("unknown key"))
        .map(|i| i.path.as_str())
        .collect();
    assert_eq!(
        unknown,
        vec![
            "workflows[0].retries.jitter",
            "workflows[0].steps[0].retry",
            "notifications.channels.ops.slack.foo",
            "notifications.channels.ops.slak",
            "alerts.rules[0].when.oops",
            "slos[0].objective.extra",
            "reports[0].format",
        ],
        "a JSON body takes any key: {found:#?}"
    );
    assert!(found.iter().all(|i| i.line > 0), "{found:#?}");
}

#[test]
fn a_key_written_twice_is_named_with_both_places() {
    let text = "environments:
  prod:
    variables: {base: \"http://a\", base: \"http://b\"}
  prod:
    variables: {x: \"1\"}
workflows:
  - name: w
    name: w2
    steps:
      - name: s
        http: {url: \"{{ base }}/json\"}
";
    let found = issues(text);
    let twice: Vec<(u64, u64, &str)> = found
        .iter()
        .map(|i| (i.line, i.column, i.path.as_str()))
        .collect();
    assert_eq!(
        twice,
        vec![
            (3, 35, "environments.prod.variables.base"),
            (4, 3, "environments.prod"),
            (8, 5, "workflows[0].name"),
        ],
        "{found:#?}"
    );
    assert_eq!(
        found[0].message,
        "key `base` appears twice in this mapping (first at line 3, column 17); remove one"
    );
    assert!(
        found
            .iter()
            .all(|i| !i.message.contains("DuplicateKeyPolicy")),
        "{found:#?}"
    );
}

#[test]
fn what_stops_reading_is_one_problem_with_its_place_and_key_path() {
    let one = |text: &str| {
        let found = issues(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        found.into_iter().next().unwrap()
    };
    let broken = one("storage:\n  url: \"sqlite://x.db\n");
    assert_eq!(broken.file, Path::new("wfmon.yaml"));
    assert!(broken.line >= 2, "{broken}");
    let typed = one("scheduler:\n  concurrency: many\n");
    assert_eq!(
        (typed.line, typed.column, typed.path.as_str()),
        (2, 16, "scheduler.concurrency")
    );
    assert_eq!(
        typed.message,
        "expected a whole number from 0 to 4294967295"
    );
    let shape = one("workflows:\n  - name: a\n    steps:\n      - name: s\n        http: x\n");
    assert_eq!(shape.path, "workflows[0].steps[0].http", "{shape}");
    assert!(shape.message.contains("expected a mapping"), "{shape}");
    // The unknown keys found before the stop are kept.
    let found = issues("workflows:\n  - name: a\n    stepz: []\n");
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["workflows[0].stepz", "workflows[0]"],
        "{found:#?}"
    );
    assert_eq!(found[1].message, "missing key `steps`");
}

#[test]
fn a_duplicate_workflow_name_does_not_hide_the_workflows_other_problems() {
    let text = "workflows:
  - name: a
    steps: [{name: s1, http: {url: \"http://x\"}}]
  - name: a
    schedule: \"* * * *\"
    timezone: Mars/Olympus
    steps:
      - name: s1
        http: {url: \"ftp://x\"}
      - name: s1
        http: {url: \"http://x\"}
";
    let found = issues(text);
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    for path in [
        "workflows[1].name",
        "workflows[1].schedule",
        "workflows[1].timezone",
        "workflows[1].steps[0].http.url",
        "workflows[1].steps[1].name",
    ] {
        assert!(paths.contains(&path), "no {path}: {found:#?}");
    }
}

#[test]
fn problems_named_by_a_key_get_that_keys_place() {
    let found = issues(
        "environments:\n  local:\n    variables:\n      password: \"${WFMON_TEST_UNSET_PLACE}\"\n",
    );
    assert_eq!(
        (found[0].line, found[0].column, found[0].path.as_str()),
        (4, 17, "environments.local.variables.password"),
        "{found:#?}"
    );
    let found = issues(
        "environments: {prod: {}}\nnotifications:\n  channels: {ops: {console: {}}}\n  routes:\n    URGENT: [ops]\n",
    );
    assert_eq!(
        (found[0].line, found[0].column, found[0].path.as_str()),
        (5, 5, "notifications.routes.URGENT"),
        "{found:#?}"
    );
    let sources = [
        (
            std::path::PathBuf::from("a.yaml"),
            "environments:\n  prod: {}\n".to_owned(),
        ),
        (
            std::path::PathBuf::from("b.yaml"),
            "# the same environment again\nenvironments:\n  prod: {}\n".to_owned(),
        ),
    ];
    let Err(ConfigError::Issues(found)) = Config::from_sources(&sources) else {
        panic!("expected issues");
    };
    assert_eq!(
        found[0].to_string(),
        "b.yaml:3:3: environments.prod: environment `prod` is already defined in a.yaml"
    );
}

#[test]
fn a_workflows_key_path_counts_in_its_own_file() {
    let sources = [
        (
            std::path::PathBuf::from("a.yaml"),
            "workflows:\n  - name: a\n    steps: [{name: s, http: {url: \"http://x\"}}]\n"
                .to_owned(),
        ),
        (
            std::path::PathBuf::from("b.yaml"),
            "workflows:\n  - name: b\n    environments: []\n    steps: [{name: s, http: {url: \"http://x\"}}]\n"
                .to_owned(),
        ),
    ];
    let Err(ConfigError::Issues(found)) = Config::from_sources(&sources) else {
        panic!("expected issues");
    };
    assert_eq!(
        found[0].to_string(),
        "b.yaml:3:5: workflows[0].environments: lists no environment"
    );
}

#[test]
fn an_email_channel_needs_a_host_and_a_real_port() {
    // SAFETY: the variable name is unique to this test.
    unsafe { std::env::set_var("WFMON_TEST_EMPTY_HOST", "") };
    let channel = |email: &str| {
        format!(
            "environments: {{prod: {{}}}}\nnotifications:\n  channels:\n    mail: {{email: {{{email}, from: a@b.c, to: [x@y.z]}}}}\n"
        )
    };
    let found = issues(&channel("host: \"\", port: 0"));
    let places: Vec<(u64, u64, &str)> = found
        .iter()
        .map(|i| (i.line, i.column, i.path.as_str()))
        .collect();
    assert_eq!(
        places,
        vec![
            (4, 20, "notifications.channels.mail.email.host"),
            (4, 30, "notifications.channels.mail.email.port"),
        ],
        "{found:#?}"
    );
    assert!(found[0].message.contains("is empty"), "{}", found[0]);
    assert!(found[1].message.contains("0 is not a port"), "{}", found[1]);
    let found = issues(&channel("host: \"${WFMON_TEST_EMPTY_HOST}\""));
    assert_eq!(
        found[0].path, "notifications.channels.mail.email.host",
        "{found:#?}"
    );
    // Beside the channel's other problems.
    let found = issues(&channel("host: \" \", tls: maybe"));
    let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
    assert!(
        paths.contains(&"notifications.channels.mail.email.tls")
            && paths.contains(&"notifications.channels.mail.email.host"),
        "{found:#?}"
    );
    assert!(parse(&channel("host: smtp.example.com, port: 2525")).is_ok());
}
