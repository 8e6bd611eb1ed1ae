//! `wfmon init` and `wfmon validate` as a user runs them.

mod common;

use common::{text, wfmon};

#[test]
fn init_writes_a_valid_starter_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = wfmon(d, &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("wfmon init"), "{}", text(&out));

    assert!(wfmon(d, &["init"]).status.success());
    let written = std::fs::read_to_string(d.join("wfmon.yaml")).unwrap();
    std::fs::write(d.join("wfmon.yaml"), format!("{written}\n# edited\n")).unwrap();
    let out = wfmon(d, &["init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert!(
        std::fs::read_to_string(d.join("wfmon.yaml"))
            .unwrap()
            .ends_with("# edited\n"),
        "left untouched"
    );

    let out = wfmon(d, &["validate", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["workflows"][0]["name"], "health-check");
    assert!(report["workflows"][0]["nextRunAt"].is_string());
}

#[test]
fn validate_lists_every_problem_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.yaml"),
        "workflows:\n  - name: a\n    schedule: \"* * * *\"\n    steps:\n      - name: s\n        http: {url: \"{{ base_url }}/x\"}\n        timeout: soon\n",
    )
    .unwrap();
    let out = wfmon(d, &["-c", "bad.yaml", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("bad.yaml:3:15: workflows[0].schedule"), "{t}");
    assert!(
        t.contains("bad.yaml:7:18: workflows[0].steps[0].timeout"),
        "{t}"
    );
    assert!(t.contains("2 problems"), "{t}");
}
