//! Faults of the target become failed steps and assertions with precise messages: nothing
//! panics, nothing leaks a secret.

use std::path::Path;

use wfmon_engine::config::Config;
use wfmon_engine::runner::RunContext;
use wfmon_model::{ExecutionStatus, StepStatus};

use crate::app::{self, TOKEN, step};

/// A port on 127.0.0.1 that nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_target_fails_the_step() {
    let base = format!("http://127.0.0.1:{}", closed_port().await);
    let config = app::config(
        &base,
        r#"
  - name: w
    steps:
      - name: down
        http: {url: "{{ base_url }}/api/health"}
        assert: ["status == 200"]
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let down = step(&outcome, "down");
    assert_eq!(down.status, StepStatus::Failed);
    let error = down.error.as_deref().unwrap();
    assert!(
        error.starts_with(&format!("GET {base}/api/health: cannot connect: ")),
        "{error}"
    );
    assert!(
        error.ends_with("tcp connect error: Connection refused (os error 111)"),
        "{error}"
    );
    assert_eq!((outcome.tests_failed, outcome.tests_total), (1, 1));
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_failure() {
    let config = app::config(
        "http://wfmon-test.invalid",
        r#"
  - name: w
    steps:
      - name: dns
        http: {url: "{{ base_url }}/"}
        timeout: 10s
"#,
    );
    let outcome = app::run(&config).await;
    let error = step(&outcome, "dns").error.clone().unwrap();
    assert!(
        error.starts_with("GET http://wfmon-test.invalid/: DNS lookup failed: dns error: "),
        "{error}"
    );
    assert_eq!(step(&outcome, "dns").status, StepStatus::Failed);
}

#[tokio::test]
async fn a_self_signed_certificate_fails_unless_verification_is_off() {
    let base = app::start_tls().await;
    let config = app::config(
        &base,
        r#"
  - name: w
    steps:
      - name: verified
        http: {url: "{{ base_url }}/"}
        continue_on_failure: true
      - name: unverified
        http: {url: "{{ base_url }}/", verify_tls: false}
        assert: ["body.ok && tls_days_left >= 29 && tls_days_left <= 30", "status == 200"]
"#,
    );
    let outcome = app::run(&config).await;
    let verified = step(&outcome, "verified");
    assert_eq!(verified.status, StepStatus::Failed);
    assert_eq!(
        verified.error,
        Some(format!(
            "GET {base}/: TLS handshake failed: invalid peer certificate: UnknownIssuer \
             (for a self-signed certificate, set verify_tls: false)"
        ))
    );
    let unverified = step(&outcome, "unverified");
    assert_eq!(unverified.status, StepStatus::Passed, "{unverified:#?}");
}

#[tokio::test]
async fn tls_days_left_is_explained_for_plain_http() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: plain
        http: {url: "{{ base_url }}/api/health"}
        assert: ["tls_days_left > 10"]
"#,
    );
    let outcome = app::run(&config).await;
    let a = &step(&outcome, "plain").assertions[0];
    assert!(!a.passed);
    assert_eq!(
        a.error.as_deref(),
        Some(
            "`tls_days_left` is not defined here (defined: status, headers, body, text, \
             duration_ms, vars) (tls_days_left is only set for https URLs)"
        )
    );
}

#[tokio::test]
async fn a_text_body_a_failed_capture_and_a_missing_variable() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: page
        http: {url: "{{ base_url }}/html"}
        assert: ["body.user.role == 'farmer'", "text.contains('hello')"]
        capture: {token: $.token}
        continue_on_failure: true
      - name: health
        http: {url: "{{ base_url }}/api/health"}
        capture: {other: $.token}
        continue_on_failure: true
      - name: me
        http: {url: "{{ base_url }}/api/me", headers: {Authorization: "Bearer {{ token }}"}}
"#,
    );
    let outcome = app::run(&config).await;
    let page = step(&outcome, "page");
    assert_eq!(page.status, StepStatus::Failed);
    let a = &page.assertions[0];
    assert_eq!(
        a.error.as_deref(),
        Some(
            "cannot select a field of a string (the response body is not JSON: \
             \"<html><body>hello</body></html>\")"
        ),
        "{a:?}"
    );
    assert!(page.assertions[1].passed);
    assert!(page.captured.is_empty());
    assert_eq!(
        page.error.as_deref(),
        Some(
            "assertion `body.user.role == 'farmer'` failed: cannot select a field of a string \
             (the response body is not JSON: \"<html><body>hello</body></html>\")"
        )
    );
    let health = step(&outcome, "health");
    assert_eq!(health.status, StepStatus::Failed);
    assert_eq!(
        health.error.as_deref(),
        Some("capture `other`: $.token matched nothing")
    );
    let me = step(&outcome, "me");
    assert_eq!(me.status, StepStatus::Failed);
    assert_eq!(me.error.as_deref(), Some("variable `token` is not set"));
}

#[tokio::test]
async fn an_oversized_body_fails_the_step() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: big
        http: {url: "{{ base_url }}/api/big"}
"#,
    );
    let mut ctx = RunContext::new("r", vec![]);
    ctx.body_cap = 16 * 1024;
    let outcome = app::run_with(&config, &ctx, &wfmon_engine::runner::NoObserver).await;
    assert_eq!(
        step(&outcome, "big").error.as_deref(),
        Some(
            format!(
                "GET {}/api/big: the response body is larger than the 16 KiB limit",
                app.base
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn redirects_are_followed_or_not() {
    let app = app::start().await;
    let config = app::config(
        &app.base,
        r#"
  - name: w
    steps:
      - name: followed
        http: {url: "{{ base_url }}/api/redirect"}
        assert: ["status == 200 && body.status == 'ok'"]
      - name: not followed
        http: {url: "{{ base_url }}/api/redirect", follow_redirects: false}
        assert: ["status == 302", "headers.location == '/api/health'"]
"#,
    );
    let outcome = app::run(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Passed, "{outcome:#?}");
    assert_eq!(step(&outcome, "not followed").http_status, Some(302));
}

#[tokio::test]
async fn secrets_and_credentials_never_reach_messages() {
    // SAFETY: the variable name is unique to this test.
    unsafe { std::env::set_var("WFMON_TEST_RUNNER_API_KEY", "key-0123456789") };
    let app = app::start().await;
    let text = r#"
environments:
  test:
    variables:
      base_url: "BASE"
      api_key: "${WFMON_TEST_RUNNER_API_KEY}"
workflows:
  - name: w
    steps:
      - name: echo
        http:
          method: POST
          url: "{{ base_url }}/api/echo?key={{ api_key }}"
          headers: {Authorization: "Bearer TOKEN", X-Api-Key: "{{ api_key }}"}
          body: "raw {{ api_key }}"
          content_type: text/plain
        assert:
          - body.auth == 'nope'
          - body.key == 'nope'
          - body.body == 'nope'
          - body.content_type == 'text/plain'
"#
    .replace("BASE", &app.base)
    .replace("TOKEN", TOKEN);
    let config = Config::parse(&text, Path::new("test.yaml")).unwrap();
    assert_eq!(config.secrets, vec!["key-0123456789"]);
    let outcome = app::run(&config).await;
    let echo = step(&outcome, "echo");
    let actual: Vec<Option<&str>> = echo
        .assertions
        .iter()
        .map(|a| a.actual.as_deref())
        .collect();
    assert_eq!(
        actual,
        vec![Some("\"***\""), Some("\"***\""), Some("\"raw ***\""), None]
    );
    let json = serde_json::to_string(&outcome).unwrap();
    assert!(
        !json.contains("key-0123456789") && !json.contains(TOKEN),
        "{json}"
    );

    // A URL with the secret in it is shown redacted when the target is down.
    let port = closed_port().await;
    let down = text.replace(&app.base, &format!("http://127.0.0.1:{port}"));
    let outcome = app::run(&Config::parse(&down, Path::new("test.yaml")).unwrap()).await;
    let error = outcome.error.unwrap();
    assert!(
        error.starts_with(&format!(
            "step `echo`: POST http://127.0.0.1:{port}/api/echo?key=***: cannot connect"
        )),
        "{error}"
    );
}
