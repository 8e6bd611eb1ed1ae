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

    // The text counts steps as --json does: cleanup steps apart.
    let out = wfmon(d, &["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    let workflows = report["workflows"].as_array().unwrap();
    let with_cleanup = workflows
        .iter()
        .find(|w| w["cleanupSteps"].as_u64() > Some(0))
        .expect("the starter has a workflow with cleanup steps");
    let line = listing
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with(with_cleanup["name"].as_str().unwrap())
        })
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(
        line.contains(&format!(
            " {} step(s) and {} cleanup step(s),",
            with_cleanup["steps"], with_cleanup["cleanupSteps"]
        )),
        "{line}"
    );
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
    assert!(
        t.contains(
            "bad.yaml:5:15: workflows[0].steps[0]: variable `base_url` is not defined for environment `production`"
        ),
        "the variable check runs beside the other problems: {t}"
    );
    assert!(t.contains("3 problems"), "{t}");
}

const UNKNOWN_KEYS: &str = "storage:
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

#[test]
fn validate_names_every_unknown_key_in_the_file_it_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("unk.yaml"), UNKNOWN_KEYS).unwrap();
    let out = wfmon(d, &["-c", "unk.yaml", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    for expected in [
        "unk.yaml:3:3: storage.foo: unknown key `foo`",
        "unk.yaml:8:5: environments.production.colour: unknown key `colour`",
        "unk.yaml:16:11: workflows[0].steps[0].http.timeout: unknown key `timeout`",
        "unk.yaml:11:15: workflows[0].schedule:",
        "4 problems",
    ] {
        assert!(t.contains(expected), "no `{expected}` in:\n{t}");
    }
    assert!(
        t.starts_with("error: 4 problems in the configuration:"),
        "{t}"
    );
    assert!(!t.contains("error: line") && !t.contains("<input>"), "{t}");

    std::fs::write(
        d.join("dup.yaml"),
        "environments:\n  prod:\n    variables: {base: \"http://a\", base: \"http://b\"}\n",
    )
    .unwrap();
    let out = wfmon(d, &["-c", "dup.yaml", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains("dup.yaml:3:35: environments.prod.variables.base: key `base` appears twice"),
        "{t}"
    );
    assert!(!t.contains("DuplicateKeyPolicy"), "{t}");
}

#[test]
fn validate_json_prints_the_problems_of_an_invalid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("unk.yaml"), UNKNOWN_KEYS).unwrap();
    let text_form = wfmon(d, &["-c", "unk.yaml", "validate"]);
    let out = wfmon(d, &["-c", "unk.yaml", "validate", "--json"]);
    assert_eq!(out.status.code(), text_form.status.code());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "{report:#}");
    assert_eq!(
        problems[0],
        serde_json::json!({
            "file": "unk.yaml",
            "line": 3,
            "column": 3,
            "path": "storage.foo",
            "message": problems[0]["message"],
        })
    );
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown key `foo`"),
        "{report:#}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["path"] == "workflows[0].schedule" && p["line"] == 11),
        "{report:#}"
    );

    // Without a configuration at all: still JSON, with no place.
    let empty = tempfile::tempdir().unwrap();
    let out = wfmon(empty.path(), &["validate", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["line"], serde_json::Value::Null);
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("wfmon init"),
        "{report:#}"
    );
}
