//! `wfmon validate` on alerting sections, `wfmon notify test`, `wfmon alerts ...`, and the
//! daemon alerting end to end: the real binary, a real webhook receiver on 127.0.0.1, a
//! real SQLite file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{text, wfmon};
use wfmon_model::*;
use wfmon_store::{DatabaseUrl, OpenMode, Store};

/// An HTTP receiver on 127.0.0.1 answering every request with `status`, keeping the bodies.
struct Receiver {
    base: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        Receiver::serve(status, false)
    }

    /// One that quotes the request's path back in its answer, as Express does ("Cannot POST
    /// /path").
    fn echoing(status: u16) -> Receiver {
        Receiver::serve(status, true)
    }

    fn serve(status: u16, echo: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                if let Ok(json) = serde_json::from_slice(&body) {
                    kept.lock().unwrap().push(json);
                }
                let answer = if echo {
                    format!("Cannot POST {path}")
                } else {
                    String::new()
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Receiver { base, bodies }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

fn write(dir: &Path, yaml: &str) {
    std::fs::write(dir.join("wfmon.yaml"), yaml).unwrap();
}

fn database(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("wfmon.db").display())
}

async fn store(dir: &Path) -> Store {
    Store::open(
        &DatabaseUrl::parse(&database(dir)).unwrap(),
        OpenMode::Create,
    )
    .await
    .unwrap()
}

const WORKFLOW: &str = r#"
workflows:
  - name: login
    steps:
      - name: probe
        health: {url: "http://127.0.0.1:9/health"}
"#;

#[test]
fn validate_names_the_key_of_every_bad_channel_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{WORKFLOW}
notifications:
  channels:
    ops: {{slack: {{}}}}
    mail: {{email: {{host: smtp.example.com, from: not-an-address, to: [ops@example.com]}}}}
    plain: {{email: {{host: smtp.example.com, tls: none, username: u, password: pw, from: a@example.com, to: [ops@example.com]}}}}
alerts:
  rules:
    - name: r
      workflows: [nope]
      severity: LOUD
      channels: [ghost]
      when: {{consecutive_failures: 2}}
"
        ),
    );
    let out = wfmon(dir.path(), &["validate"]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    for needle in [
        "wfmon.yaml:10:",
        "notifications.channels.ops.slack.webhook_url: missing",
        "notifications.channels.mail.email.from",
        "notifications.channels.plain.email.tls: `none` would send the password in clear text to smtp.example.com",
        "alerts.rules[0].workflows[0]: unknown workflow `nope`",
        "alerts.rules[0].severity: `LOUD` is not a severity",
        "alerts.rules[0].channels[0]: unknown channel `ghost`",
    ] {
        assert!(printed.contains(needle), "{needle} not in:\n{printed}");
    }
}

#[test]
fn notify_test_sends_records_and_never_prints_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let good = Receiver::start(200);
    let bad = Receiver::start(500);
    write(
        dir.path(),
        &format!(
            "{WORKFLOW}
notifications:
  channels:
    good: {{webhook: {{url: \"{}/hooks/T0KEN-GOOD\"}}}}
    bad: {{slack: {{webhook_url: \"{}/services/T0KEN-BAD\"}}}}
",
            good.base, bad.base
        ),
    );
    let db = database(dir.path());
    let out = wfmon(dir.path(), &["notify", "test", "good", "--database", &db]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("sent a test message to good"), "{printed}");
    assert!(!printed.contains("T0KEN"), "{printed}");
    assert_eq!(good.bodies().len(), 1);
    assert_eq!(good.bodies()[0]["type"], "TEST");

    let out = wfmon(dir.path(), &["notify", "test", "bad", "--database", &db]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("HTTP 500"), "{printed}");
    assert!(!printed.contains("T0KEN"), "{printed}");

    let out = wfmon(
        dir.path(),
        &["notify", "test", "nowhere", "--database", &db],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("configured: bad, good"),
        "{}",
        text(&out)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let logs = rt.block_on(async {
        store(dir.path())
            .await
            .recent_notifications(None, None, 10)
            .await
            .unwrap()
    });
    assert_eq!(logs.len(), 2);
    let bad_row = logs
        .iter()
        .find(|l| l.channel_name.as_deref() == Some("bad"))
        .unwrap();
    assert_eq!(bad_row.status, NotificationStatus::Failed);
    assert_eq!(bad_row.retry_count, 1, "one failed attempt");
    assert!(
        bad_row
            .error_message
            .as_deref()
            .unwrap()
            .contains("HTTP 500")
    );
    let good_row = logs
        .iter()
        .find(|l| l.channel_name.as_deref() == Some("good"))
        .unwrap();
    assert_eq!(good_row.status, NotificationStatus::Sent);
    assert_eq!(good_row.retry_count, 0, "no failed attempt");
    assert_eq!(good_row.notification_type, NotificationType::Test);
    for row in &logs {
        let stored = serde_json::to_string(row).unwrap();
        assert!(!stored.contains("T0KEN"), "{stored}");
    }
}

/// A receiver that quotes the URL's path back in its error: the reason printed and stored
/// has none of the path's token, whether the URL is written in the file or comes from
/// `${VAR}`.
#[test]
fn notify_test_hides_the_url_a_receiver_quotes_back() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::echoing(404);
    write(
        dir.path(),
        &format!(
            "{WORKFLOW}
notifications:
  channels:
    literal: {{webhook: {{url: \"{}/hook/echo/T000/B000/XOXSECRETliteral\"}}}}
    fromenv: {{webhook: {{url: \"${{WFMON_CLI_ECHO_URL}}\"}}}}
",
            rx.base
        ),
    );
    let db = database(dir.path());
    for channel in ["literal", "fromenv"] {
        let out = Command::new(env!("CARGO_BIN_EXE_wfmon"))
            .args(["notify", "test", channel, "--database", &db])
            .current_dir(dir.path())
            .env_remove("WFMON_DATABASE_URL")
            .env_remove("WFMON_CONFIG")
            .env("NO_COLOR", "1")
            .env(
                "WFMON_CLI_ECHO_URL",
                format!("{}/hook/echo/ENVSECRET42", rx.base),
            )
            .output()
            .unwrap();
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{printed}");
        assert!(printed.contains("HTTP 404: Cannot POST ***"), "{printed}");
        for secret in ["XOXSECRETliteral", "T000", "ENVSECRET42"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let logs = rt.block_on(async {
        store(dir.path())
            .await
            .recent_notifications(None, None, 10)
            .await
            .unwrap()
    });
    assert_eq!(logs.len(), 2);
    for row in &logs {
        let stored = serde_json::to_string(row).unwrap();
        assert!(stored.contains("Cannot POST ***"), "{stored}");
        for secret in ["XOXSECRETliteral", "T000", "ENVSECRET42"] {
            assert!(!stored.contains(secret), "{stored}");
        }
    }
}

/// The console channel writes to the log, which a command does not show without -v: the
/// test prints the line the daemon's log gets.
#[test]
fn notify_test_on_a_console_channel_shows_the_line_it_logs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!("{WORKFLOW}\nnotifications:\n  channels:\n    log: {{console: {{}}}}\n"),
    );
    let db = database(dir.path());
    let out = wfmon(dir.path(), &["notify", "test", "log", "--database", &db]);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(printed.contains("sent a test message to log"), "{printed}");
    assert!(
        printed
            .contains("wfmon test notification to log | If you can read this, the channel works."),
        "{printed}"
    );
}

fn candidate(fingerprint: &str) -> Alert {
    let now = Timestamp::now();
    Alert {
        id: new_id("alr"),
        alert_id: new_id("alert"),
        rule_id: "login-failing".into(),
        workflow_name: "login".into(),
        environment: "production".into(),
        severity: AlertSeverity::Warning,
        status: AlertStatus::Active,
        fingerprint: fingerprint.into(),
        message: "the last 2 run(s) failed in a row".into(),
        triggered_at: now,
        last_triggered_at: now,
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        escalated_at: None,
        last_notified_at: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn alerts_are_listed_acknowledged_silenced_and_resolved() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), WORKFLOW);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        let s = store(dir.path()).await;
        let a = candidate("login-failing/login/production");
        let b = candidate("login-failing/login/staging");
        s.trigger_alert(&a).await.unwrap();
        s.trigger_alert(&b).await.unwrap();
        s.close().await;
        (a, b)
    });
    let db = database(dir.path());
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", &db]);
        wfmon(dir.path(), &all)
    };
    let out = run(&["alerts", "list"]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains(&a.alert_id) && printed.contains(&b.alert_id),
        "{printed}"
    );
    // The API's limits hold here too: a list of 1 to 500, a silence of at most 365 days
    // with a reason; nothing changes when they are not met.
    let out = run(&["alerts", "list", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    for (length, reason, says) in [("400d", "deploy", "at most 365d"), ("1h", " ", "say why")] {
        let out = run(&[
            "alerts",
            "silence",
            &b.alert_id,
            "--for",
            length,
            "--reason",
            reason,
        ]);
        assert_eq!(out.status.code(), Some(64), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }

    let out = run(&["alerts", "ack", &a.alert_id, "--by", "alice"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("acknowledged"));
    let out = run(&["alerts", "ack", &a.alert_id]);
    assert_eq!(out.status.code(), Some(1), "twice is an error");

    let out = run(&[
        "alerts",
        "silence",
        &b.alert_id,
        "--for",
        "2h",
        "--reason",
        "deploy",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["alerts", "resolve", &a.alert_id, "--by", "bob"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(&["alerts", "list", "--all", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|x| x["alertId"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&a.alert_id)["status"], "RESOLVED");
    assert_eq!(by_id(&a.alert_id)["acknowledgedBy"], "alice");
    assert_eq!(by_id(&a.alert_id)["resolvedBy"], "bob");
    assert_eq!(by_id(&b.alert_id)["status"], "SILENCED");
    assert_eq!(by_id(&b.alert_id)["metadata"]["silenceReason"], "deploy");

    let out = run(&["alerts", "list"]);
    let printed = text(&out);
    assert!(
        !printed.contains(&a.alert_id),
        "resolved ones are not open: {printed}"
    );
    let out = run(&[
        "alerts",
        "silence",
        &b.alert_id,
        "--for",
        "soon",
        "--reason",
        "x",
    ]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "a bad duration is a usage error"
    );
}

#[test]
fn the_daemon_alerts_on_failures_and_delivers_to_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(200);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    write(
        dir.path(),
        &format!(
            "
server: {{listen: 127.0.0.1:0}}
workflows:
  - name: login
    schedule: \"* * * * * *\"
    steps:
      - name: probe
        health: {{url: \"http://127.0.0.1:{closed}/health\"}}
        timeout: 1s
notifications:
  channels:
    hook: {{webhook: {{url: \"{}/hook\"}}}}
alerts:
  rules:
    - name: login-failing
      severity: critical
      when: {{consecutive_failures: 2}}
      channels: [hook]
",
            receiver.base
        ),
    );
    let db = database(dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .args(["run", "--database", &db])
        .current_dir(dir.path())
        .env_remove("WFMON_DATABASE_URL")
        .env_remove("WFMON_CONFIG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while receiver.bodies().is_empty() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few more failed runs: no second message.
    std::thread::sleep(Duration::from_secs(2));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}\n{log}");
    assert_eq!(bodies[0]["type"], "ALERT");
    assert_eq!(bodies[0]["workflow"], "login");
    assert_eq!(bodies[0]["severity"], "CRITICAL");
    assert_eq!(bodies[0]["failedStep"], "probe");
    assert!(log.contains("alert"), "{log}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let alert = rt.block_on(async {
        store(dir.path())
            .await
            .open_alert("login-failing/login/production")
            .await
            .unwrap()
    });
    let alert = alert.expect("the alert stays open across the restart");
    assert!(alert.occurrences >= 2, "{alert:?}");
    assert!(alert.last_notified_at.is_some());
}

#[test]
fn validate_summarises_rules_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{WORKFLOW}
notifications:
  channels:
    log: {{console: {{}}}}
alerts:
  rules:
    - {{name: down, when: {{consecutive_failures: 1}}, channels: [log]}}
"
        ),
    );
    let out = wfmon(dir.path(), &["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("alerting: 1 rule(s), 1 channel(s) (log)"),
        "{}",
        text(&out)
    );
    let out = wfmon(dir.path(), &["validate", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["alertRules"], serde_json::json!(["down"]));
    assert_eq!(json["channels"], serde_json::json!(["log"]));
}
