//! `/metrics` over the engine's counters, on SQLite and PostgreSQL, with the daemon's parts
//! wired as `wfmon run` wires them (one event bus): notifications delivered to a real
//! receiver on 127.0.0.1, failed at one that answers 500, suppressed by a silence; the lag
//! of scheduled runs; failed writes and dropped results while the writer's database is
//! closed; and failed API reads, with `/metrics` still answering while its database is down.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{execution, postgres_url};
use wfmon_engine::alerting::AlertingService;
use wfmon_engine::config::Config;
use wfmon_engine::events::EventBus;
use wfmon_engine::scheduler::{SchedulerOptions, run_scheduler, schedule_specs};
use wfmon_engine::trigger::Trigger;
use wfmon_engine::writer::{ResultWriter, WriteJob};
use wfmon_model::{ExecutionStatus, Timestamp};
use wfmon_store::{DatabaseUrl, OpenMode, Store};
use wfmon_web::AppState;

/// A receiver on 127.0.0.1 answering every POST with `status`, counting them.
async fn receiver(status: StatusCode) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// The daemon's parts over one store and one event bus, the API served on 127.0.0.1.
struct Daemon {
    base: String,
    url: DatabaseUrl,
    store: Store,
    events: EventBus,
    config: Arc<Config>,
    client: reqwest::Client,
    alerting: Option<AlertingService>,
    _dir: Option<tempfile::TempDir>,
}

impl Daemon {
    async fn start(url: DatabaseUrl, dir: Option<tempfile::TempDir>, yaml: &str) -> Daemon {
        let config = Arc::new(Config::parse(yaml, Path::new("metrics.yaml")).unwrap());
        let store = Store::open(&url, OpenMode::Create).await.unwrap();
        store
            .sync_schedules(&schedule_specs(&config, chrono::Utc::now()))
            .await
            .unwrap();
        let events = EventBus::new();
        let (writer, _task) =
            ResultWriter::start_with_events(store.clone(), 100, Some(events.clone()));
        let alerting = AlertingService::start(store.clone(), config.clone(), &events, "t".into());
        let trigger = Trigger::new(config.clone(), writer, events.clone(), "t".into());
        let state = AppState::new(store.clone(), config.clone(), events.clone())
            .with_trigger(trigger)
            .with_alert_nudge(alerting.nudge());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(wfmon_web::serve(listener, state, std::future::pending()));
        Daemon {
            base,
            url,
            store,
            events,
            config,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            alerting: Some(alerting),
            _dir: dir,
        }
    }

    /// Every sample of a scrape: `name{labels}` -> value.
    async fn scrape(&self) -> BTreeMap<String, f64> {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("series and value");
                let value = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
                (series.to_owned(), value)
            })
            .collect()
    }

    /// Scrapes until `done` holds (at most 20 s), and returns that scrape.
    async fn scrape_until(
        &self,
        what: &str,
        done: impl Fn(&BTreeMap<String, f64>) -> bool,
    ) -> BTreeMap<String, f64> {
        let started = Instant::now();
        loop {
            let samples = self.scrape().await;
            if done(&samples) {
                return samples;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what}: {samples:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

fn notifications(channel: &str, outcome: &str) -> String {
    format!("wfmon_notifications_total{{channel=\"{channel}\",outcome=\"{outcome}\"}}")
}

fn store_errors(operation: &str) -> String {
    format!("wfmon_store_errors_total{{operation=\"{operation}\"}}")
}

async fn sqlite_daemon(yaml: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("m.db").display())).unwrap();
    Daemon::start(url, Some(dir), yaml).await
}

async fn postgres_daemon(yaml: &str) -> Option<Daemon> {
    let url = postgres_url().await?;
    Some(Daemon::start(url, None, yaml).await)
}

const FAILING: &str = r#"
environments:
  production: {variables: {}}
workflows:
  - name: broken
    environments: [production]
    steps:
      - name: falsehood
        command: {run: ["false"]}
"#;

fn alerting_yaml(ok_url: &str, down_url: &str) -> String {
    format!(
        "{FAILING}notifications:\n  delivery: {{timeout: 5s, attempts: 2, backoff: 50ms, \
         max_backoff: 100ms}}\n  channels:\n    ok: {{webhook: {{url: \"{ok_url}\"}}}}\n    \
         down: {{webhook: {{url: \"{down_url}\"}}}}\nalerts:\n  rules:\n    - name: failing\n      \
         when: {{consecutive_failures: 1}}\n      channels: [ok, down]\n    - name: hushed\n      \
         when: {{consecutive_failures: 1}}\n      channels: [ok]\n  silences:\n    - {{rule: \
         hushed, environment: production, until: \"2099-01-01T00:00:00Z\", reason: test}}\n"
    )
}

/// A failing run opens two alerts: one goes to a receiver that accepts it and to one that
/// answers 500 twice (retried, then failed after the last attempt); the silenced one is
/// recorded SUPPRESSED on its channel.
async fn notification_outcomes_are_counted_per_channel(
    daemon: impl AsyncFnOnce(&str) -> Option<Daemon>,
) {
    let (ok_url, ok_hits) = receiver(StatusCode::OK).await;
    let (down_url, down_hits) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let Some(d) = daemon(&alerting_yaml(&ok_url, &down_url)).await else {
        return;
    };
    let response = d
        .client
        .post(format!("{}/api/workflows/broken/run", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let samples = d
        .scrape_until("delivered to ok, failed at down", |s| {
            sample(s, &notifications("ok", "delivered")) >= 1.0
                && sample(s, &notifications("down", "failed")) >= 1.0
        })
        .await;
    assert_eq!(samples[&notifications("ok", "delivered")], 1.0);
    assert_eq!(samples[&notifications("down", "retried")], 1.0);
    assert_eq!(samples[&notifications("down", "failed")], 1.0);
    assert_eq!(samples[&notifications("ok", "suppressed")], 1.0);
    assert!(!samples.contains_key(&notifications("down", "delivered")));
    assert!(!samples.contains_key(&notifications("down", "suppressed")));
    assert_eq!(
        ok_hits.load(Ordering::SeqCst),
        1,
        "the silenced alert is not sent"
    );
    assert_eq!(down_hits.load(Ordering::SeqCst), 2, "two attempts");
    // The outbox agrees with the counters.
    let rows = d
        .store
        .count::<wfmon_model::NotificationLog>()
        .await
        .unwrap();
    assert_eq!(rows, 3, "ok and down for `failing`, ok for `hushed`");
    assert_eq!(samples[&store_errors("outbox")], 0.0);
    d.alerting.unwrap().stop().await;
}

#[tokio::test]
async fn sqlite_notification_outcomes_are_counted_per_channel() {
    notification_outcomes_are_counted_per_channel(async |yaml| Some(sqlite_daemon(yaml).await))
        .await;
}

#[tokio::test]
async fn postgres_notification_outcomes_are_counted_per_channel() {
    notification_outcomes_are_counted_per_channel(async |yaml| postgres_daemon(yaml).await).await;
}

const TICKING: &str = r#"
environments:
  production: {variables: {}}
workflows:
  - name: ticking
    schedule: "* * * * * *"
    environments: [production]
    steps:
      - name: truth
        command: {run: ["true"]}
"#;

/// Scheduled runs feed the lag histogram; a writer whose database is closed counts its
/// failed writes and the results its full buffer refuses; API reads that fail are counted,
/// and `/metrics` still answers (without the open alerts it cannot read).
async fn lag_and_store_errors_are_counted(daemon: impl AsyncFnOnce(&str) -> Option<Daemon>) {
    let Some(d) = daemon(TICKING).await else {
        return;
    };
    let before = d.scrape().await;
    assert_eq!(before["wfmon_scheduler_lag_seconds_count"], 0.0);
    assert_eq!(before["wfmon_results_dropped_total"], 0.0);
    for operation in ["write_results", "schedule", "outbox", "api_read"] {
        assert_eq!(before[&store_errors(operation)], 0.0, "{operation}");
    }
    assert!(before.contains_key("wfmon_open_alerts{severity=\"CRITICAL\"}"));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (writer, _task) =
        ResultWriter::start_with_events(d.store.clone(), 100, Some(d.events.clone()));
    let options = SchedulerOptions {
        events: d.events.clone(),
        ..SchedulerOptions::default()
    };
    let scheduler = tokio::spawn(run_scheduler(
        d.store.clone(),
        d.config.clone(),
        writer,
        "t".into(),
        options,
        async move {
            let _ = stopped.await;
            "test".to_owned()
        },
    ));
    let samples = d
        .scrape_until("two scheduled runs", |s| {
            sample(s, "wfmon_scheduler_lag_seconds_count") >= 2.0
        })
        .await;
    let _ = stop.send(());
    let summary = scheduler.await.unwrap();
    let count = samples["wfmon_scheduler_lag_seconds_count"];
    assert!(summary.started as f64 >= count, "{summary:?}");
    assert_eq!(
        samples["wfmon_scheduler_lag_seconds_bucket{le=\"+Inf\"}"],
        count
    );
    // Cumulative buckets never decrease, and a run on an idle machine starts within a minute.
    let mut previous = 0.0;
    for le in wfmon_engine::telemetry::LAG_BUCKETS {
        let n = samples[&format!("wfmon_scheduler_lag_seconds_bucket{{le=\"{le}\"}}")];
        assert!(n >= previous, "le={le}");
        previous = n;
    }
    assert_eq!(previous, count, "every start within 60 s of its due time");
    let sum = samples["wfmon_scheduler_lag_seconds_sum"];
    let last = samples["wfmon_scheduler_last_lag_seconds"];
    assert!(sum >= 0.0 && sum < 60.0 * count, "{sum}");
    assert!(last >= 0.0 && last <= sum, "{last} of {sum}");

    // A writer on the same bus whose database is closed: results wait, then are refused (a
    // finished run's result counts as dropped; a RUNNING row alone would not).
    let closed = Store::open(&d.url, OpenMode::Create).await.unwrap();
    closed.close().await;
    let (writer, _task) = ResultWriter::start_with_events(closed, 2, Some(d.events.clone()));
    let job = || {
        let record = wfmon_store::ExecutionRecord {
            execution: execution(
                "ticking",
                "production",
                ExecutionStatus::Passed,
                Timestamp::now(),
                Some(5),
            ),
            steps: Vec::new(),
            metrics: Vec::new(),
            health_checks: Vec::new(),
        };
        WriteJob::Finished(Box::new(record), None)
    };
    assert_eq!(
        [writer.send(job()), writer.send(job()), writer.send(job())],
        [true, true, false]
    );
    let samples = d
        .scrape_until("failed writes and a dropped result", |s| {
            sample(s, &store_errors("write_results")) >= 1.0
        })
        .await;
    assert_eq!(samples["wfmon_results_dropped_total"], 1.0);
    assert_eq!(samples[&store_errors("api_read")], 0.0);

    // The API's own database goes away: reads fail and are counted; /metrics still answers.
    d.store.close().await;
    let response = d
        .client
        .get(format!("{}/api/overview", d.base))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());
    let samples = d.scrape().await;
    assert_eq!(
        samples[&store_errors("api_read")],
        2.0,
        "the overview and this scrape's read of the open alerts"
    );
    assert!(
        !samples.keys().any(|k| k.starts_with("wfmon_open_alerts")),
        "open alerts cannot be read: left out"
    );
    assert!(samples.keys().any(|k| k.starts_with("wfmon_build_info")));
}

#[tokio::test]
async fn sqlite_lag_and_store_errors_are_counted() {
    lag_and_store_errors_are_counted(async |yaml| Some(sqlite_daemon(yaml).await)).await;
}

#[tokio::test]
async fn postgres_lag_and_store_errors_are_counted() {
    lag_and_store_errors_are_counted(async |yaml| postgres_daemon(yaml).await).await;
}
