//! `wfmon bench api`: how fast the API answers over a large history, against the same API
//! over an empty store in the same run, and what each connected live-update client costs in
//! memory.
//!
//! Latency: the API (`wfmon_web::serve`, the server `wfmon run` runs) in this process on
//! 127.0.0.1, over the given database and over a fresh empty SQLite file; `--clients`
//! concurrent clients each send one request after another for `--seconds` per endpoint, and
//! every request's time from send to the last byte of the body is kept. Memory: a `wfmon run`
//! child (this binary, authentication off, no workflows) on a fresh SQLite file; its resident
//! set before and after `--live-clients` connections to `GET /api/events` stay open.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wfmon_engine::config::Config;
use wfmon_engine::events::EventBus;
use wfmon_model::WorkflowExecution;
use wfmon_store::{DatabaseUrl, OpenMode, Store};
use wfmon_web::AppState;

use super::engine::ScratchDir;
use super::engine::memory::Daemon;
use crate::exit::{EXIT_USAGE, Failure};

/// The endpoints timed: the dashboard's first screen and the first page of executions.
const ENDPOINTS: [&str; 2] = ["/api/overview", "/api/executions?limit=50"];

/// Requests per endpoint before timing starts (connections, caches, prepared statements).
const WARM_UP: usize = 20;

/// How long the live clients stay connected before the memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Targets, as the README states them.
const TARGET_P99_MS: f64 = 50.0;
const TARGET_RATIO: f64 = 3.0;
const TARGET_KIB_PER_CLIENT: f64 = 100.0;

/// `wfmon bench api` arguments.
#[derive(Debug, Args)]
pub struct ApiBenchArgs {
    /// The database whose history the API serves (fill one with `wfmon bench seed`; the
    /// README's figures are over 10 million executions). Only read.
    #[arg(long, value_name = "URL")]
    pub seeded: String,

    /// Concurrent clients.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub clients: u32,

    /// Seconds each endpoint is timed on each store.
    #[arg(long, value_name = "S", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=600))]
    pub seconds: u32,

    /// Live-update clients connected for the memory measurement (0: skip it).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(0..=20_000))]
    pub live_clients: u32,

    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// One endpoint on one store.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Latency {
    store: String,
    endpoint: String,
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The live clients' memory.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LiveMemory {
    clients: u32,
    rss_before_kib: u64,
    rss_after_kib: u64,
    kib_per_client: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    seeded_executions: i64,
    clients: u32,
    latency: Vec<Latency>,
    live: Option<LiveMemory>,
}

/// Runs the benchmark.
pub async fn run(args: &ApiBenchArgs) -> Result<(), Failure> {
    let url = DatabaseUrl::parse(&args.seeded)
        .map_err(|e| Failure::with_code(format!("--seeded: {e}"), EXIT_USAGE))?;
    let seeded = Store::open(&url, OpenMode::ReadOnly)
        .await
        .map_err(|e| Failure::new(format!("--seeded {}: {e}", url.redacted())))?;
    let seeded_executions = seeded
        .count::<WorkflowExecution>()
        .await
        .map_err(|e| Failure::new(format!("--seeded {}: {e}", url.redacted())))?;
    if seeded_executions == 0 {
        return Err(Failure::with_code(
            format!(
                "--seeded {} holds no executions: fill it first with `wfmon bench seed`",
                url.redacted()
            ),
            EXIT_USAGE,
        ));
    }
    let dir = ScratchDir::new()?;
    let empty = Store::open(&dir.sqlite("empty")?, OpenMode::Create)
        .await
        .map_err(|e| Failure::new(format!("the empty store: {e}")))?;
    empty
        .migrate()
        .await
        .map_err(|e| Failure::new(format!("the empty store: {e}")))?;

    let mut latency = Vec::new();
    for (label, store) in [("empty", empty), ("seeded", seeded)] {
        latency.extend(time_endpoints(label, store, args).await?);
    }
    let live = if args.live_clients > 0 {
        Some(live_memory(dir.path(), args.live_clients).await?)
    } else {
        None
    };
    let report = Report {
        seeded_executions,
        clients: args.clients,
        latency,
        live,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Times every endpoint of the API served over `store`.
async fn time_endpoints(
    label: &str,
    store: Store,
    args: &ApiBenchArgs,
) -> Result<Vec<Latency>, Failure> {
    let config = Arc::new(
        Config::parse("workflows: []\n", Path::new("bench.yaml"))
            .map_err(|e| Failure::new(e.to_string()))?,
    );
    let state = AppState::new(store, config, EventBus::new());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::new(format!("cannot listen on 127.0.0.1: {e}")))?;
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| Failure::new(e.to_string()))?
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wfmon_web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients as usize)
        .build()
        .map_err(|e| Failure::new(format!("HTTP client: {e}")))?;
    let mut rows = Vec::new();
    for endpoint in ENDPOINTS {
        let url = format!("{base}{endpoint}");
        for _ in 0..WARM_UP {
            fetch(&client, &url).await?;
        }
        let started = Instant::now();
        let until = started + Duration::from_secs(u64::from(args.seconds));
        let mut tasks = Vec::new();
        for _ in 0..args.clients {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < until {
                    let t = Instant::now();
                    fetch(&client, &url).await?;
                    times.push(t.elapsed());
                }
                Ok::<_, Failure>(times)
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.extend(
                task.await
                    .map_err(|e| Failure::new(format!("a client failed: {e}")))??,
            );
        }
        let elapsed = started.elapsed().as_secs_f64();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        rows.push(Latency {
            store: label.to_owned(),
            endpoint: endpoint.to_owned(),
            requests: times.len(),
            per_second: times.len() as f64 / elapsed,
            p50_ms: ms(rank(0.50)),
            p99_ms: ms(rank(0.99)),
            max_ms: ms(*times.last().expect("at least one request per client")),
        });
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(rows)
}

/// One GET, read to the end; anything but 200 is an error.
async fn fetch(client: &reqwest::Client, url: &str) -> Result<(), Failure> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| Failure::new(format!("GET {url}: {e}")))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::new(format!("GET {url}: {e}")))?;
    if !status.is_success() {
        return Err(Failure::new(format!(
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(())
}

/// The resident set of a `wfmon run` child before and after `clients` live connections.
async fn live_memory(dir: &Path, clients: u32) -> Result<LiveMemory, Failure> {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
        .map_err(|e| Failure::new(format!("cannot find a free port: {e}")))?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let yaml = "server:\n  auth: {enabled: false}\nworkflows: []\n";
    let daemon = Daemon::start(
        dir,
        "live",
        yaml,
        &["--listen", &listen],
        "wfmon run with live clients",
    )
    .await?;
    tokio::time::sleep(SETTLE).await;
    let (before, _) = daemon.memory()?;
    let mut streams = Vec::with_capacity(clients as usize);
    for n in 0..clients {
        streams.push(
            open_stream(&listen)
                .await
                .map_err(|e| Failure::new(format!("live client {n}: {e}")))?,
        );
    }
    tokio::time::sleep(SETTLE).await;
    let (after, _) = daemon.memory()?;
    drop(streams);
    daemon.stop().await?;
    Ok(LiveMemory {
        clients,
        rss_before_kib: before,
        rss_after_kib: after,
        kib_per_client: after.saturating_sub(before) as f64 / f64::from(clients),
    })
}

/// Connects to `GET /api/events` and reads the answer's head; the stream stays open.
async fn open_stream(addr: &str) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!(
                "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::Error::other("closed before answering"));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "answered {}",
            String::from_utf8_lossy(&head).lines().next().unwrap_or("")
        )));
    }
    Ok(stream)
}

fn print_report(report: &Report) {
    println!(
        "API latency, {} concurrent clients; seeded store: {} executions",
        report.clients, report.seeded_executions
    );
    println!(
        "{:<8} {:<26} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "store", "endpoint", "requests", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    for r in &report.latency {
        println!(
            "{:<8} {:<26} {:>9} {:>9.0} {:>9.2} {:>9.2} {:>9.2}",
            r.store, r.endpoint, r.requests, r.per_second, r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    for endpoint in ENDPOINTS {
        let p99 = |store: &str| {
            report
                .latency
                .iter()
                .find(|r| r.store == store && r.endpoint == endpoint)
                .map(|r| r.p99_ms)
        };
        if let (Some(empty), Some(seeded)) = (p99("empty"), p99("seeded")) {
            let ratio = seeded / empty.max(f64::EPSILON);
            println!(
                "{endpoint}: seeded p99 {seeded:.2} ms (target < {TARGET_P99_MS} ms: {}), \
                 {ratio:.2}x the empty store's (target <= {TARGET_RATIO}x: {})",
                verdict(seeded < TARGET_P99_MS),
                verdict(ratio <= TARGET_RATIO)
            );
        }
    }
    if let Some(live) = &report.live {
        println!(
            "live updates: {} clients on GET /api/events: RSS {} KiB -> {} KiB, {:.1} KiB per \
             client (target <= {TARGET_KIB_PER_CLIENT} KB: {})",
            live.clients,
            live.rss_before_kib,
            live.rss_after_kib,
            live.kib_per_client,
            verdict(live.kib_per_client * 1.024 <= TARGET_KIB_PER_CLIENT)
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
