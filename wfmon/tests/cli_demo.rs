//! `wfmon demo` as a newcomer runs it: the real binary in an empty folder starts the demo
//! shop, runs the twelve first runs of the bundled journeys, serves the API, and stops
//! cleanly on SIGTERM with nothing lost.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::{Connection, SqliteConnection};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET on 127.0.0.1, answered with (status, body).
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// `wfmon demo` without faults in `dir`, as a newcomer starts it (no database or config from
/// the environment), its stderr piped.
fn spawn_demo(dir: &std::path::Path) -> std::process::Child {
    demo_command(dir).spawn().unwrap()
}

fn demo_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wfmon"));
    command
        .args(["demo", "--no-faults", "--port", &free_port().to_string()])
        .current_dir(dir)
        .env_remove("WFMON_DATABASE_URL")
        .env_remove("WFMON_CONFIG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Reads `child`'s stderr up to the banner's API line (or its end), stops it with SIGTERM,
/// and returns whether it exited successfully and everything it printed.
fn banner_then_stop(mut child: std::process::Child) -> (bool, String) {
    let mut printed = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        let api = line.trim_start().starts_with("api ");
        printed.push(line);
        if api {
            break;
        }
    }
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    printed.extend(lines.map_while(Result::ok));
    let exit = child.wait().unwrap();
    (exit.success(), printed.join("\n"))
}

#[tokio::test]
async fn the_demo_runs_every_journey_serves_the_api_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_demo(dir.path());
    // Every line the demo prints, as it comes.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let mut api = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.is_none() && Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(1))
            && let Some(rest) = line.trim_start().strip_prefix("api ")
        {
            api = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let api = api.expect("the banner names the API");
    let base = api.trim_end_matches("/api/overview").to_owned();

    // The twelve first runs (six journeys in two environments) all pass against the shop.
    let db = dir.path().join("wfmon-demo.db");
    let mut finished = Vec::new();
    while Instant::now() < deadline {
        if db.exists() {
            let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            finished = sqlx::query_as::<_, (String, String, String)>(
                "SELECT workflow_name, environment, status FROM workflow_executions \
                 WHERE status <> 'RUNNING' ORDER BY workflow_name, environment",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            conn.close().await.ok();
            if finished.len() >= 12 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(finished.len(), 12, "{finished:?}");
    assert!(
        finished.iter().all(|(_, _, status)| status == "PASSED"),
        "{finished:?}"
    );
    let pairs: std::collections::BTreeSet<(String, String)> = finished
        .iter()
        .map(|(w, e, _)| (w.clone(), e.clone()))
        .collect();
    assert_eq!(pairs.len(), 12, "each journey once in each environment");

    // The API serves what was recorded.
    let (status, overview) = get(&format!("{base}/api/overview"));
    assert_eq!(status, 200, "{overview}");
    assert!(overview.contains("order-placement"), "{overview}");
    let (status, _) = get(&format!("{base}/healthz"));
    assert_eq!(status, 200);

    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let exit = child.wait().unwrap();
    let printed = reader.join().unwrap().join("\n");
    assert!(exit.success(), "{exit:?}\n{printed}");
    assert!(printed.contains("faults      none"), "{printed}");
    assert!(printed.contains(", 0 lost"), "{printed}");
}

#[tokio::test]
async fn a_demo_database_left_by_an_older_version_is_upgraded_at_start() {
    use wfmon_store::{DatabaseUrl, OpenMode, Store, latest_version};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wfmon-demo.db");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", db.display())).unwrap();
    let latest = latest_version(url.backend());
    let old = Store::connect(&url, OpenMode::Create).await.unwrap();
    old.migrate_up_to(latest - 1).await.unwrap();
    old.close().await;

    // The banner's API line comes once the store is open, or the output ends on an error.
    let (success, printed) = banner_then_stop(spawn_demo(dir.path()));
    assert!(success, "{printed}");
    assert!(
        printed.contains(&format!(
            "upgraded wfmon-demo.db from schema version {} to {latest}",
            latest - 1
        )),
        "{printed}"
    );
    let store = Store::open(&url, OpenMode::Existing)
        .await
        .expect("the schema is current");
    assert_eq!(store.schema_version().await.unwrap(), Some(latest));
    store.close().await;
}

/// A real instance's database, named by `WFMON_DATABASE_URL` in the shell that starts the
/// demo, is left alone: the demo uses its own file. Given with `--database`, a database that
/// holds another configuration's schedules is refused before anything is changed; and `-c`
/// is refused, since the demo runs its bundled configuration.
#[tokio::test]
async fn the_demo_leaves_another_configurations_database_alone() {
    use wfmon_store::{DatabaseUrl, OpenMode, ScheduleSpec, Store};
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("production.db");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", real.display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    store
        .sync_schedules(&[ScheduleSpec {
            schedule_id: "probe@prod".into(),
            workflow_name: "probe".into(),
            environment: "prod".into(),
            cron_expression: "* * * * *".into(),
            timezone: "UTC".into(),
            description: None,
            tags: None,
            next_run_at: None,
        }])
        .await
        .unwrap();
    store.close().await;
    let enabled = || async {
        let store = Store::open(&url, OpenMode::Existing).await.unwrap();
        let rows: Vec<(String, bool)> = store
            .schedules()
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.schedule_id, s.enabled))
            .collect();
        store.close().await;
        rows
    };

    let mut command = demo_command(dir.path());
    command.env("WFMON_DATABASE_URL", url.as_str());
    let (success, printed) = banner_then_stop(command.spawn().unwrap());
    assert!(success, "{printed}");
    assert!(
        printed.contains("database    sqlite://wfmon-demo.db"),
        "{printed}"
    );
    assert_eq!(enabled().await, [("probe@prod".to_owned(), true)]);

    let mut command = demo_command(dir.path());
    command.args(["--database", url.as_str()]);
    let out = command.output().unwrap();
    let printed = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("holds the schedules of another configuration (probe@prod)"),
        "{printed}"
    );
    assert_eq!(enabled().await, [("probe@prod".to_owned(), true)]);

    let mut command = demo_command(dir.path());
    command.args(["-c", "mine.yaml"]);
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wfmon run -c FILE"));
}
