//! `wfmon slo` as a user runs it: runs recorded by `wfmon check` (real programs, a real
//! SQLite file) give the objectives' figures, as a table and as JSON; an unknown objective
//! is a usage error that opens no database.

mod common;

use common::{text, wfmon};

const CONFIG: &str = r#"
environments:
  local: {}
workflows:
  - name: flip
    steps:
      - name: maybe
        command: {run: ["sh", "-c", "test -e fail && exit 1 || exit 0"]}
slos:
  - name: flip-availability
    workflow: flip
    objective: {success: 75%}
    window: 1d
"#;

#[test]
fn checks_recorded_give_the_objective_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("wfmon.yaml"), CONFIG).unwrap();
    // Three passes, then one failure (the program fails while the file `fail` exists).
    for i in 0..4 {
        if i == 3 {
            std::fs::write(d.join("fail"), "").unwrap();
        }
        let out = wfmon(d, &["check", "flip"]);
        assert!(out.status.code().is_some(), "{}", text(&out));
    }

    let out = wfmon(d, &["slo", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let local = &all[0]["environments"][0];
    assert_eq!(all[0]["name"], "flip-availability", "{all}");
    assert_eq!(
        (local["runs"].as_i64(), local["good"].as_i64()),
        (Some(4), Some(3))
    );
    // A 25% budget of 4 runs is one run, spent exactly: burn rate 1, nothing left.
    assert_eq!(local["attained"], 0.75, "{all}");
    assert_eq!(local["burnRate"], 1.0, "{all}");
    assert_eq!(local["budgetLeftFraction"], 0.0, "{all}");

    let out = wfmon(d, &["slo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("flip-availability"), "{table}");
    assert!(
        table.contains("75.00%") && table.contains("1.00x"),
        "{table}"
    );

    let out = wfmon(d, &["slo", "nope"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("no SLO `nope`"), "{}", text(&out));
}
