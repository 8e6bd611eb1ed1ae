//! `wfmon check` as a CI pipeline runs it: a real target on 127.0.0.1, the real binary, exit
//! codes, step-by-step output, and the run recorded in SQLite.

mod common;

use common::{text, wfmon};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

/// Answers every request with the same JSON body, until the test ends.
fn target(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

fn write_config(dir: &Path, base: &str) {
    std::fs::write(
        dir.join("wfmon.yaml"),
        format!(
            r#"
environments:
  local: {{variables: {{base_url: "{base}"}}}}
workflows:
  - name: farmer-profile
    steps:
      - name: profile
        http: {{url: "{{{{ base_url }}}}/api/me"}}
        assert: ["status == 200", "body.user.role == \"farmer\""]
        capture: {{user_id: $.user.id}}
  - name: admin-profile
    steps:
      - name: profile
        http: {{url: "{{{{ base_url }}}}/api/me"}}
        assert: ["body.user.role == \"admin\""]
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_passing_workflow_exits_0_prints_each_step_and_is_recorded() {
    let base = target(r#"{"user": {"id": "u-1", "role": "farmer"}}"#);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &base);
    let out = wfmon(dir.path(), &["check", "farmer-profile", "--env", "local"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("✓ profile 200"), "{t}");
    assert!(t.contains("✓ status == 200"), "{t}");
    assert!(t.contains("captured: user_id"), "{t}");
    assert!(!t.contains("u-1"), "captured values are never printed: {t}");
    assert!(t.contains("PASSED"), "{t}");

    let out = wfmon(dir.path(), &["db", "stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = |table: &str| {
        stats["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap()["rows"]
            .clone()
    };
    assert_eq!(rows("workflow_executions"), 1);
    assert_eq!(rows("workflow_step_results"), 1);
}

#[test]
fn a_failing_workflow_exits_1_with_expected_and_actual() {
    let base = target(r#"{"user": {"id": "u-1", "role": "farmer"}}"#);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &base);
    let out = wfmon(dir.path(), &["check", "admin-profile", "--no-record"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(r#"expected "admin", got "farmer""#), "{t}");
    assert!(
        !dir.path().join("wfmon.db").exists(),
        "--no-record writes no database"
    );

    let out = wfmon(
        dir.path(),
        &["check", "admin-profile", "--no-record", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["runs"][0]["outcome"]["status"], "FAILED");
    assert_eq!(
        report["runs"][0]["outcome"]["steps"][0]["assertions"][0]["actual"],
        "\"farmer\""
    );
}

#[test]
fn unknown_workflows_and_environments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "http://127.0.0.1:1");
    let out = wfmon(dir.path(), &["check", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no workflow `nope`") && text(&out).contains("farmer-profile"),
        "{}",
        text(&out)
    );
    let out = wfmon(dir.path(), &["check", "farmer-profile", "--env", "moon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("does not run in environment `moon`"),
        "{}",
        text(&out)
    );
}

/// Answers every request with 400 and a body naming what was asked, as a careless server
/// would, until the test ends.
fn echo_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let target = request.split(' ').nth(1).unwrap_or_default();
            let body = format!("bad request to {target}");
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

#[test]
fn a_secret_sent_url_encoded_is_neither_printed_nor_recorded() {
    // Percent-encoded in a URL, form-encoded in `query:`; every form holds `Sekret`.
    const SECRET: &str = "Sekret pass/ü&z=1+k==";
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let echo = echo_target();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wfmon.yaml"),
        format!(
            r#"
environments:
  down: {{variables: {{base_url: "http://127.0.0.1:{closed}"}}}}
  echo: {{variables: {{base_url: "{echo}"}}}}
workflows:
  - name: in-query
    steps:
      - name: s
        http: {{url: "{{{{ base_url }}}}/x", query: {{k: "${{WFMON_CLI_TEST_SECRET}}"}}}}
        assert: ['text == "x"']
  - name: in-url
    steps:
      - name: s
        http: {{url: "{{{{ base_url }}}}/x?k=${{WFMON_CLI_TEST_SECRET}}"}}
        assert: ['text == "x"']
"#
        ),
    )
    .unwrap();
    for workflow in ["in-query", "in-url"] {
        for (env, shown) in [
            (
                "down",
                format!("GET http://127.0.0.1:{closed}/x?k=***: cannot connect"),
            ),
            ("echo", r#"got "bad request to /x?k=***""#.to_owned()),
        ] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_wfmon"))
                .args(["check", workflow, "--env", env])
                .current_dir(dir.path())
                .env_remove("WFMON_DATABASE_URL")
                .env_remove("WFMON_CONFIG")
                .env("NO_COLOR", "1")
                .env("WFMON_CLI_TEST_SECRET", SECRET)
                .output()
                .unwrap();
            let t = text(&out);
            assert_eq!(out.status.code(), Some(1), "{workflow} {env}: {t}");
            assert!(t.contains(&shown), "{workflow} {env}: {t}");
            assert!(!t.contains("Sekret"), "{workflow} {env}: {t}");
        }
    }
    // The database's files as they are on disk: the messages are there, the secret is not.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("wfmon.db")
        {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("/x?k=***: cannot connect"));
    assert!(!stored.contains("Sekret"));
}
