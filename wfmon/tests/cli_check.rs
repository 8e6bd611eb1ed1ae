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
