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
    // Uptime: every measured minute of `good` is up, none of `bad`'s.
    let uptime = |name: &str| {
        let s = series
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["workflowName"] == name)
            .unwrap();
        let u = &s["uptime"];
        (
            u["measuredMinutes"].as_i64().unwrap(),
            u["upMinutes"].as_i64().unwrap(),
            u["uptimePercent"].as_f64().unwrap(),
        )
    };
    let (measured, up, percent) = uptime("good");
    assert!(
        measured >= 1 && up == measured && percent == 100.0,
        "{series}"
    );
    assert_eq!(uptime("bad"), (1, 0, 0.0), "{series}");

    let out = wfmon(d, &["analytics", "series", "--since", "1h"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = text(&out);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{table}"))
            .to_owned()
    };
    assert!(table.lines().next().unwrap().ends_with("uptime"), "{table}");
    assert!(line("good").ends_with("100.00%"), "{table}");
    assert!(line("bad").ends_with("0.00%"), "{table}");

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

    // The API's limits: a window of at most 1900 days, at most 1440 buckets.
    let out = wfmon(d, &["analytics", "series", "--since", "1901d"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(
        text(&out).contains("longer than 1900 days"),
        "{}",
        text(&out)
    );
    let out = wfmon(d, &["analytics", "series", "--since", "2d", "--step", "1m"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("at most 1440"), "{}", text(&out));
    assert!(text(&out).contains("--step"), "{}", text(&out));
    let out = wfmon(d, &["analytics", "series", "--since", "1d", "--step", "1m"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A name that is neither configured nor in the database is an error, not an empty table.
    for (flag, name, what) in [
        ("--workflow", "nope", "unknown workflow `nope`"),
        ("--env", "nowhere", "unknown environment `nowhere`"),
    ] {
        let out = wfmon(d, &["analytics", "series", flag, name]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(what), "{}", text(&out));
    }
}
