//! `/metrics` after real runs, on SQLite and PostgreSQL: the exposition format parsed line by
//! line, runs counted by workflow, environment and status, durations as a histogram, open
//! alerts read from the store.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use wfmon_model::*;

on_both_backends!(runs_and_open_alerts_are_exposed_for_prometheus);

/// Every sample of a scrape: `name{labels}` -> value. Comment lines must be HELP or TYPE.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(api: &TestApi) -> (String, BTreeMap<String, f64>) {
    let response = api.client.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

async fn runs_and_open_alerts_are_exposed_for_prometheus(api: TestApi) {
    api.store
        .insert(&[alert("quick", AlertStatus::Active)])
        .await
        .unwrap();
    let (status, body) = api.post("/api/workflows/quick/run", None).await;
    assert_eq!(status, 202, "{body}");
    let passed =
        "wfmon_executions_total{workflow=\"quick\",environment=\"staging\",status=\"PASSED\"}";
    let started = Instant::now();
    let samples = loop {
        let (_, samples) = scrape(&api).await;
        if samples.contains_key(passed) {
            break samples;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no run counted: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(samples[passed], 1.0);
    let labels = "workflow=\"quick\",environment=\"staging\"";
    assert_eq!(
        samples[&format!("wfmon_execution_duration_seconds_count{{{labels}}}")],
        1.0
    );
    assert_eq!(
        samples[&format!("wfmon_execution_duration_seconds_bucket{{{labels},le=\"+Inf\"}}")],
        1.0
    );
    assert!(samples[&format!("wfmon_execution_duration_seconds_sum{{{labels}}}")] >= 0.0);
    assert_eq!(samples["wfmon_open_alerts{severity=\"CRITICAL\"}"], 1.0);
    assert_eq!(samples["wfmon_open_alerts{severity=\"INFO\"}"], 0.0);
    assert!(
        samples
            .keys()
            .any(|k| k.starts_with("wfmon_build_info{version="))
    );
}
