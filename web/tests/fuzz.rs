//! Random requests from a seeded generator against the real server: whatever the query
//! string, path or body, the answer is never a 5xx, and every error is JSON with a code; on
//! both backends, since PostgreSQL refuses more than SQLite (NUL bytes, out-of-range times).

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use wfmon_model::ExecutionStatus;

const GETS: &[&str] = &[
    "/api/overview",
    "/api/workflows",
    "/api/workflows/quick",
    "/api/workflows/%2e%2e",
    "/api/executions",
    "/api/executions/run_x",
    "/api/alerts",
    "/api/alerts/alert_x",
    "/api/alerts/%00",
    "/api/reports",
    "/api/series",
    "/api/openapi.json",
    "/api/docs",
    "/healthz",
    "/readyz",
    "/api/ws",
    "/api/nothing",
];

const POSTS: &[&str] = &[
    "/api/workflows/quick/run",
    "/api/workflows/broken/run",
    "/api/workflows/%00/run",
    "/api/schedules/quick@production/pause",
    "/api/schedules/quick@production/resume",
    "/api/schedules/x@y/pause",
    "/api/executions",
    "/api/alerts/alert_x/acknowledge",
    "/api/alerts/alert_x/resolve",
    "/api/alerts/alert_x/silence",
    "/api/alerts/%00/silence",
];

const NAMES: &[&str] = &[
    "workflow",
    "environment",
    "status",
    "since",
    "until",
    "limit",
    "cursor",
    "bucket",
    "type",
    "x",
    "",
    "%00",
    "limit[]",
    "l%69mit",
];

const VALUES: &[&str] = &[
    "",
    "quick",
    "production",
    "PASSED",
    "failed",
    "BOGUS",
    "0",
    "1",
    "-1",
    "500",
    "501",
    "99999999999999999999",
    "abc",
    "1.5",
    "24h",
    "0s",
    "99999999d",
    "100000000000000d",
    "1ms",
    "2026-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "2026-02-30T00:00:00Z",
    "notatime",
    "hour",
    "minute",
    "HOUR",
    "week",
    "%00",
    "%ff%fe",
    "' OR 1=1 --",
    "\"; DROP TABLE alerts; --",
    "%E2%9C%93",
    "a%20b",
    "%",
    "%%",
    "+",
    "&",
    "bm9wZQ",
    "OTk5OTk5OTk5OTk5OTk5OTk5OTk6cnVu",
    "LTYyMTM1NTk2ODAwMDAwOnJ1bg",
    "<script>alert(1)</script>",
];

const BODIES: &[&str] = &[
    "",
    "{}",
    "{\"environment\": \"production\"}",
    "{\"environment\": \"moon\"}",
    "{\"environment\": null}",
    "{\"environment\": 1}",
    "{\"environment\": [\"a\"]}",
    "[]",
    "null",
    "1",
    "\"x\"",
    "{",
    "}",
    "{\"a\":",
    "\u{0}",
    "{\"environment\": \"\\u0000\"}",
    "{\"environment\": \"production\", \"extra\": true}",
    "\u{feff}{}",
    "true",
    "{\"by\": \"alice\"}",
    "{\"by\": \"\\u0000\"}",
    "{\"for\": \"2h\", \"reason\": \"deploy\"}",
    "{\"for\": \"99999999999999d\", \"reason\": \"x\"}",
    "{\"until\": \"9999-12-31T23:59:59Z\", \"reason\": \"x\"}",
    "{\"until\": \"0001-01-01T00:00:00Z\", \"reason\": \"x\"}",
];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

on_both_backends!(random_requests_never_get_a_server_error);

async fn random_requests_never_get_a_server_error(api: TestApi) {
    let rows: Vec<_> = (0..12)
        .map(|i| {
            execution(
                "quick",
                "production",
                ExecutionStatus::Passed,
                minutes_ago(i * 7),
                Some(10),
            )
        })
        .collect();
    api.store.insert(&rows).await.unwrap();
    // A real alert, so the actions on `alert_x` change state (and later meet 409s).
    let mut open = alert("quick", wfmon_model::AlertStatus::Active);
    open.alert_id = "alert_x".to_owned();
    api.store.insert(&[open]).await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x7766_6d6f_6e00);
    for round in 0..400 {
        let post = rng.random_range(0..4) == 0;
        let path = if post {
            pick(&mut rng, POSTS)
        } else {
            pick(&mut rng, GETS)
        };
        let mut query = Vec::new();
        for _ in 0..rng.random_range(0..4) {
            query.push(format!(
                "{}={}",
                pick(&mut rng, NAMES),
                pick(&mut rng, VALUES)
            ));
        }
        let url = if query.is_empty() {
            api.url(path)
        } else {
            format!("{}?{}", api.url(path), query.join("&"))
        };
        let request = if post {
            let body = pick(&mut rng, BODIES);
            let content_type = match rng.random_range(0..4) {
                0 => "text/plain",
                1 => "application/json; charset=utf-8",
                _ => "application/json",
            };
            api.client
                .post(&url)
                .header("content-type", content_type)
                .body(body.to_owned())
        } else {
            api.client.get(&url)
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap();
        assert!(
            status < 500,
            "round {round}: {} {url} -> {status} {text}",
            if post { "POST" } else { "GET" }
        );
        if status >= 400 {
            assert!(
                content_type.starts_with("application/json"),
                "round {round}: {url} -> {content_type}"
            );
            let body: Value = serde_json::from_str(&text).unwrap();
            assert!(
                body["error"].is_string() && body["message"].is_string(),
                "round {round}: {text}"
            );
        }
    }
    // Let the runs the fuzzing started finish before the database goes away.
    api.writer.flush().await;
}
