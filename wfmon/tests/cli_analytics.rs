//! `wfmon analytics` as a user runs it: runs recorded by `wfmon check` (real programs, a
//! real SQLite file) show up in the series, steps and failures read from the rollups.

mod common;

use common::{text, wfmon};

const CONFIG: &str = r#"
environments:
  local: {}
workflows:
  - name: good
    steps:
      - name: truth
        command: {run: ["true"]}
  - name: bad
    steps:
      - name: falsehood
        command: {run: ["false"]}
"#;

#[test]
fn checks_recorded_show_in_series_steps_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("wfmon.yaml"), CONFIG).unwrap();
    for workflow in ["good", "good", "bad"] {
        let out = wfmon(d, &["check", workflow]);
        assert!(out.status.code().is_some(), "{}", text(&out));
    }

    let out = wfmon(
        d,
        &[
            "analytics",
            "series",
            "--since",
            "1h",
            "--step",
            "1h",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let series: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = |name: &str| {
        series
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["workflowName"] == name)
            .map(|s| {
                (
                    s["total"]["runs"].clone(),
                    s["total"]["successRate"].clone(),
                )
            })
    };
    assert_eq!(runs("good"), Some((2.into(), 1.0.into())), "{series}");
    assert_eq!(runs("bad"), Some((1.into(), 0.0.into())), "{series}");

    let out = wfmon(d, &["analytics", "steps", "--workflow", "bad"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("falsehood"), "{}", text(&out));

    let out = wfmon(d, &["analytics", "failures", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let groups: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(groups[0]["workflows"][0], "bad", "{groups}");

    let out = wfmon(
        d,
        &["analytics", "series", "--since", "1h", "--until", "2h"],
    );
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("--until"), "{}", text(&out));
    let out = wfmon(d, &["analytics", "series", "--step", "30s"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("whole number of minutes"),
        "{}",
        text(&out)
    );
}
