//! `wfmon run` as an operator runs it: the real daemon binary, scheduling workflows every
//! second against a real HTTP target on 127.0.0.1, stopped with SIGTERM or killed with
//! SIGKILL, on a real SQLite file or a fresh PostgreSQL database per test. The tests read the
//! database behind the daemon's back and check what it recorded.
//!
//! PostgreSQL: `WFMON_TEST_POSTGRES_URL` (set by `scripts/test`), else the local default;
//! each test creates its own database there and drops it at the end. Without a reachable
//! server the PostgreSQL tests are skipped with a note, except under CI, where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use wfmon_engine::scheduler::host_name;
use wfmon_model::{
    ExecutionStatus, Record, Timestamp, TriggeredBy, WorkflowExecution, WorkflowSchedule,
};

// ---------------------------------------------------------------------------------------
// The target: a small HTTP server that counts the requests it receives.

/// One request the target received.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    at: DateTime<Utc>,
}

/// An HTTP server on 127.0.0.1: `/ok/TAG` answers at once, `/slow/MS/TAG` after MS
/// milliseconds; every request is remembered with the time it arrived.
struct Target {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let shared = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let hits = shared.clone();
                std::thread::spawn(move || answer(stream, &hits));
            }
        });
        Target { base, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Requests whose path contains `tag`.
    fn count(&self, tag: &str) -> usize {
        self.hits().iter().filter(|h| h.path.contains(tag)).count()
    }
}

fn answer(mut stream: TcpStream, hits: &Mutex<Vec<Hit>>) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let path = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    hits.lock().unwrap().push(Hit {
        path: path.clone(),
        at: Utc::now(),
    });
    if let Some(rest) = path.strip_prefix("/slow/") {
        let ms = rest
            .split('/')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_millis(ms));
    }
    let body = r#"{"ok": true}"#;
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

// ---------------------------------------------------------------------------------------
// The configuration.

/// A workflow with one HTTP step to `path` on the target.
fn http_workflow(name: &str, cron: &str, path: &str) -> String {
    r#"  - name: NAME
    schedule: "CRON"
    steps:
      - name: call
        http: {url: "{{ base_url }}PATH"}
        assert: ["status == 200"]
"#
    .replace("NAME", name)
    .replace("CRON", cron)
    .replace("PATH", path)
}

/// A workflow with one command step running `sh -c SCRIPT`.
fn command_workflow(name: &str, cron: &str, script: &str) -> String {
    r#"  - name: NAME
    schedule: "CRON"
    steps:
      - name: work
        command: {run: [sh, -c, "SCRIPT"]}
"#
    .replace("NAME", name)
    .replace("CRON", cron)
    .replace("SCRIPT", script)
}

/// Writes `file` in `dir`: the scheduler options (a YAML flow mapping), one environment
/// `local` pointing at `base`, and the workflows.
fn write_config(dir: &Path, file: &str, scheduler: &str, base: &str, workflows: &[String]) {
    let text = format!(
        "scheduler: {scheduler}\ndefaults: {{timezone: UTC}}\nenvironments:\n  local: {{variables: {{base_url: \"{base}\"}}}}\nworkflows:\n{}",
        workflows.concat()
    );
    std::fs::write(dir.join(file), text).unwrap();
}

const EVERY_SECOND: &str = "* * * * * *";

// ---------------------------------------------------------------------------------------
// The daemon.

/// A `wfmon run` process, its output going to a log file in the test's folder.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, config: &str, database: &str, name: &str) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wfmon"))
            .args(["-c", config, "--database", database, "run"])
            .current_dir(dir)
            .env_remove("WFMON_DATABASE_URL")
            .env_remove("WFMON_CONFIG")
            .env_remove("WFMON_LOG")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start wfmon run");
        Daemon { child, log }
    }

    /// Starts the daemon and waits until it schedules.
    async fn running(dir: &Path, config: &str, database: &str, name: &str) -> Daemon {
        let mut daemon = Daemon::start(dir, config, database, name);
        daemon.wait_for_log("wfmon running").await;
        daemon
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The default instance id of this process (`host:pid`).
    fn default_instance(&self) -> String {
        format!("{}:{}", host_name(), self.pid())
    }

    /// Everything the daemon printed so far: plain text, since its stderr is a file, not a
    /// terminal (no colour codes for a log file to carry).
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            !text.contains('\u{1b}'),
            "colour codes in a log file: {text}"
        );
        text
    }

    async fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.log().contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "wfmon run exited ({status}) before printing {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "wfmon run did not print {needle:?} within 20s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status and how long it took.
    async fn terminate(&mut self) -> (ExitStatus, Duration) {
        // SAFETY: sends a signal to our own child, which has not been waited for yet.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM to wfmon run");
        let sent = Instant::now();
        let status = self.wait_exit(Duration::from_secs(30)).await;
        let status = status.unwrap_or_else(|| {
            panic!(
                "wfmon run did not exit within 30s of SIGTERM:\n{}",
                self.log()
            )
        });
        (status, sent.elapsed())
    }

    /// SIGKILL: no chance to write or release anything.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `probe` every 25 ms until it gives a value, for at most `limit`.
async fn until<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether a process exists (and is not a zombie of ours).
fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim()
            .starts_with('Z')
    })
}

// ---------------------------------------------------------------------------------------
// The databases, read and changed behind the daemon's back.

/// A database URL the daemon uses; for PostgreSQL, a database of the test's own, dropped at
/// the end.
struct Db {
    url: String,
    pg: Option<PgDatabase>,
}

struct PgDatabase {
    name: String,
    /// A connection to another database of the same server (for CREATE/ALTER/DROP).
    admin: PgConnectOptions,
    /// The base URL, to build other URLs to the same database (through a proxy, say).
    base: String,
}

macro_rules! with_conn {
    ($url:expr, |$conn:ident| $body:expr) => {{
        let url: &str = $url;
        if url.starts_with("sqlite:") {
            let mut $conn = sqlx::SqliteConnection::connect(url)
                .await
                .expect("connect to SQLite");
            let out = $body;
            $conn.close().await.ok();
            out
        } else {
            let mut $conn = sqlx::PgConnection::connect(url)
                .await
                .expect("connect to PostgreSQL");
            let out = $body;
            $conn.close().await.ok();
            out
        }
    }};
}

impl Db {
    /// A new SQLite file in `dir`.
    fn sqlite(dir: &Path) -> Db {
        Db {
            url: format!("sqlite://{}", dir.join("wfmon.db").display()),
            pg: None,
        }
    }

    /// A new PostgreSQL database; `None` (with a note) when PostgreSQL is unreachable
    /// outside CI. Under CI (`CI` set) an unreachable server fails the test.
    async fn postgres() -> Option<Db> {
        let base = std::env::var("WFMON_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/wfmon_test".to_owned());
        let options = PgConnectOptions::from_str(&base).expect("WFMON_TEST_POSTGRES_URL");
        let (admin, mut conn) = match options.connect().await {
            Ok(conn) => (options.clone(), conn),
            Err(first) => {
                let maintenance = options.clone().database("postgres");
                match maintenance.connect().await {
                    Ok(conn) => (maintenance, conn),
                    Err(_) if std::env::var_os("CI").is_none() => {
                        eprintln!("skipping PostgreSQL test: cannot connect to {base}: {first}");
                        return None;
                    }
                    Err(e) => {
                        panic!("CI is set but PostgreSQL at {base} is unreachable: {first}; {e}")
                    }
                }
            }
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "wfmon_run_{}_{}_{}",
            std::process::id(),
            Utc::now().timestamp_millis(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        conn.close().await.ok();
        let url = pg_url(&base, None, &name);
        Some(Db {
            url,
            pg: Some(PgDatabase { name, admin, base }),
        })
    }

    async fn executions(&self) -> Vec<WorkflowExecution> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY started_at, run_id",
            WorkflowExecution::column_list(),
            WorkflowExecution::TABLE
        );
        with_conn!(&self.url, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("read executions"))
    }

    async fn schedules(&self) -> Vec<WorkflowSchedule> {
        let sql = format!(
            "SELECT {} FROM {} ORDER BY schedule_id",
            WorkflowSchedule::column_list(),
            WorkflowSchedule::TABLE
        );
        with_conn!(&self.url, |conn| sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("read schedules"))
    }

    async fn schedule(&self, id: &str) -> WorkflowSchedule {
        let all = self.schedules().await;
        all.iter()
            .find(|s| s.schedule_id == id)
            .cloned()
            .unwrap_or_else(|| panic!("no schedule row {id}: {all:#?}"))
    }

    async fn set_next_run_at(&self, schedule_id: &str, at: Timestamp) {
        let sql = "UPDATE workflow_schedules SET next_run_at = $1 WHERE schedule_id = $2";
        let changed = with_conn!(&self.url, |conn| sqlx::query(sql)
            .bind(at)
            .bind(schedule_id)
            .execute(&mut conn)
            .await
            .expect("update the schedule")
            .rows_affected());
        assert_eq!(changed, 1);
    }

    /// Runs SQL on the server's other database (PostgreSQL only).
    async fn admin(&self, sql: &str) {
        let pg = self.pg.as_ref().expect("a PostgreSQL database");
        let mut conn = pg.admin.connect().await.expect("admin connection");
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.ok();
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    conn.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// `base` with its database replaced by `database` and, if given, its host and port by
/// `host_port`.
fn pg_url(base: &str, host_port: Option<&str>, database: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let path_start = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |i| scheme_end + i);
    let authority = &head[scheme_end..path_start];
    let authority = match host_port {
        Some(hp) => match authority.rsplit_once('@') {
            Some((user, _)) => format!("{user}@{hp}"),
            None => hp.to_string(),
        },
        None => authority.to_string(),
    };
    let mut url = format!("{}{authority}/{database}", &head[..scheme_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// The host:port of a PostgreSQL URL.
fn pg_host_port(base: &str) -> String {
    let options = PgConnectOptions::from_str(base).unwrap();
    format!("{}:{}", options.get_host(), options.get_port())
}

// ---------------------------------------------------------------------------------------
// Reading executions.

fn due_at(e: &WorkflowExecution) -> DateTime<Utc> {
    let text = e
        .metadata
        .as_ref()
        .and_then(|m| m.0.get("dueAt"))
        .and_then(|d| d.as_str())
        .unwrap_or_else(|| panic!("execution {} has no metadata.dueAt: {e:?}", e.run_id));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("dueAt {text:?}: {err}"))
        .with_timezone(&Utc)
}

fn of_schedule<'a>(all: &'a [WorkflowExecution], schedule: &str) -> Vec<&'a WorkflowExecution> {
    all.iter()
        .filter(|e| e.schedule_id.as_deref() == Some(schedule))
        .collect()
}

fn ran(e: &WorkflowExecution) -> bool {
    e.status != ExecutionStatus::Skipped
}

fn completed(e: &WorkflowExecution) -> DateTime<Utc> {
    e.completed_at
        .unwrap_or_else(|| panic!("{} has no completed_at: {e:?}", e.run_id))
        .as_datetime()
}

fn whole_second(t: DateTime<Utc>) -> bool {
    t.nanosecond() == 0
}

fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.with_nanosecond(0).unwrap();
    if floor == t {
        t
    } else {
        floor + TimeDelta::seconds(1)
    }
}

fn summary(all: &[WorkflowExecution]) -> String {
    all.iter()
        .map(|e| {
            format!(
                "{} {} {:?} due={} started={} completed={:?} instance={:?} error={:?}",
                e.run_id,
                e.schedule_id.as_deref().unwrap_or("-"),
                e.status,
                e.metadata
                    .as_ref()
                    .and_then(|m| m.0.get("dueAt").cloned())
                    .unwrap_or_default(),
                e.started_at,
                e.completed_at.map(|t| t.to_string()),
                e.instance_id,
                e.error_message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fails if two executions of one schedule share a due time; `context` (a log, say) goes
/// into the message.
fn assert_due_times_unique(all: &[WorkflowExecution], context: &str) {
    let mut seen = BTreeMap::new();
    for e in all {
        let key = (e.schedule_id.clone(), due_at(e));
        if let Some(other) = seen.insert(key.clone(), e.run_id.clone()) {
            panic!(
                "two executions of {:?} for the due time {}: {other} and {}\n{}\n{context}",
                key.0,
                key.1,
                e.run_id,
                summary(all)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Scheduling.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_every_second_on_time_and_counts_each_run_on_sqlite() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[http_workflow("ping", EVERY_SECOND, "/ok/ping")],
    );
    let db = Db::sqlite(dir.path());
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
    let instance = daemon.default_instance();
    tokio::time::sleep(Duration::from_millis(4200)).await;
    let (status, took) = daemon.terminate().await;
    let log = daemon.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(3), "stopping took {took:?}");
    assert!(log.contains("stopped:"), "{log}");

    let all = db.executions().await;
    let runs = of_schedule(&all, "ping@local");
    assert_eq!(runs.len(), all.len(), "{}", summary(&all));
    assert!(
        runs.len() >= 3,
        "one run a second for 4s:\n{}",
        summary(&all)
    );
    for e in &runs {
        assert_eq!(e.triggered_by, TriggeredBy::Scheduled, "{e:?}");
        assert_eq!(e.status, ExecutionStatus::Passed, "{}", summary(&all));
        assert_eq!(e.instance_id.as_deref(), Some(instance.as_str()));
        let due = due_at(e);
        assert!(whole_second(due), "dueAt {due} is not on a whole second");
        let late = e.started_at.as_datetime() - due;
        assert!(
            late >= TimeDelta::zero() && late < TimeDelta::milliseconds(900),
            "run {} started {late} after its due time\n{}",
            e.run_id,
            summary(&all)
        );
    }
    assert_due_times_unique(&all, &daemon.log());
    let mut dues: Vec<_> = runs.iter().map(|e| due_at(e)).collect();
    dues.sort();
    for pair in dues.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            TimeDelta::seconds(1),
            "a due second was missed\n{}",
            summary(&all)
        );
    }
    assert_eq!(
        target.count("/ok/ping"),
        runs.len(),
        "one request per recorded run"
    );

    let s = db.schedule("ping@local").await;
    assert_eq!(s.run_count, runs.len() as i64, "{s:?}");
    assert_eq!(s.run_count, s.success_count + s.failure_count, "{s:?}");
    assert_eq!(s.failure_count, 0, "{s:?}");
    assert_eq!(s.cron_expression, EVERY_SECOND);
    let last = s.last_run_at.expect("last_run_at").as_datetime();
    let next = s.next_run_at.expect("next_run_at").as_datetime();
    assert_eq!(last, *dues.last().unwrap(), "last_run_at is the last run");
    assert_eq!(
        next,
        last + TimeDelta::seconds(1),
        "next_run_at follows it: {s:?}"
    );
    assert_eq!(s.lease_owner, None, "the lease is released at stop: {s:?}");
    assert_eq!(s.lease_expires_at, None, "{s:?}");
}

// ---------------------------------------------------------------------------------------
// 2. Overlaps.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_still_in_flight_makes_the_next_due_times_skipped_and_runs_never_overlap() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[command_workflow("slow", EVERY_SECOND, "sleep 2.5")],
    );
    let db = Db::sqlite(dir.path());
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let (status, _) = daemon.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log());

    let all = db.executions().await;
    let text = summary(&all);
    let runs: Vec<_> = all.iter().filter(|e| ran(e)).collect();
    let skipped: Vec<_> = all.iter().filter(|e| !ran(e)).collect();
    assert!(runs.len() >= 2, "{text}");
    assert!(skipped.len() >= 2, "{text}");
    for r in &runs {
        assert_eq!(r.status, ExecutionStatus::Passed, "{text}");
        assert!(
            r.duration_ms.unwrap() >= 2400,
            "the step sleeps 2.5s: {text}"
        );
    }
    for s in &skipped {
        let due = due_at(s);
        let message = s.error_message.as_deref().unwrap_or_default();
        let blocker = runs
            .iter()
            .find(|r| message.contains(&r.run_id))
            .unwrap_or_else(|| panic!("{} names no run in flight: {message:?}\n{text}", s.run_id));
        assert!(
            message.contains("still in flight"),
            "{message:?} says why it was skipped"
        );
        assert!(
            blocker.started_at.as_datetime() <= due && due <= completed(blocker),
            "{} was skipped at {due} for {}, which was not in flight then\n{text}",
            s.run_id,
            blocker.run_id
        );
        assert_eq!(s.triggered_by, TriggeredBy::Scheduled);
        assert_eq!(s.duration_ms, Some(0));
    }
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            let apart = completed(a) < b.started_at.as_datetime()
                || completed(b) < a.started_at.as_datetime();
            assert!(apart, "{} and {} overlap\n{text}", a.run_id, b.run_id);
        }
    }
    // Every due second is accounted for: run or skipped, once.
    assert_due_times_unique(&all, &daemon.log());
    let mut dues: Vec<_> = all.iter().map(due_at).collect();
    dues.sort();
    for pair in dues.windows(2) {
        assert_eq!(pair[1] - pair[0], TimeDelta::seconds(1), "{text}");
    }
    let s = db.schedule("slow@local").await;
    assert_eq!(
        s.run_count,
        runs.len() as i64,
        "skipped runs are not counted: {s:?}"
    );
    assert_eq!(s.run_count, s.success_count + s.failure_count, "{s:?}");
    assert_eq!(s.lease_owner, None, "{s:?}");
}

// ---------------------------------------------------------------------------------------
// 3. Graceful stop.

/// Waits for the first RUNNING execution and returns it.
async fn running_row(db: &Db, schedule: &str) -> WorkflowExecution {
    until("a RUNNING execution", Duration::from_secs(10), async || {
        db.executions().await.into_iter().find(|e| {
            e.status == ExecutionStatus::Running && e.schedule_id.as_deref() == Some(schedule)
        })
    })
    .await
}

/// A RUNNING execution of `schedule` that started at most `age` ago, so that a run of known
/// length is surely still in flight for a while (on a loaded machine the row may be read
/// just before its run ends).
async fn young_running_row(db: &Db, schedule: &str, age: Duration) -> WorkflowExecution {
    until(
        "a RUNNING execution that just started",
        Duration::from_secs(10),
        async || {
            let oldest = Utc::now() - TimeDelta::from_std(age).unwrap();
            db.executions().await.into_iter().find(|e| {
                e.status == ExecutionStatus::Running
                    && e.schedule_id.as_deref() == Some(schedule)
                    && e.started_at.as_datetime() > oldest
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_aborts_a_run_that_outlasts_the_grace_and_kills_its_program() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 1s}",
        &target.base,
        &[command_workflow(
            "long",
            EVERY_SECOND,
            "echo $$ > long.pid; exec sleep 20",
        )],
    );
    let db = Db::sqlite(dir.path());
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
    let run = running_row(&db, "long@local").await;
    let pid_file = dir.path().join("long.pid");
    let pid: i32 = until("the step's pid", Duration::from_secs(5), async || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .await;
    assert!(process_alive(pid));

    let (status, took) = daemon.terminate().await;
    let log = daemon.log();
    assert_eq!(status.code(), Some(0), "an aborted run is recorded: {log}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "exit {took:?} after SIGTERM with a grace of 1s\n{log}"
    );
    assert!(log.contains("waiting up to 1s"), "{log}");

    let all = db.executions().await;
    let row = all
        .iter()
        .find(|e| e.run_id == run.run_id)
        .expect("the run's row");
    assert_eq!(row.status, ExecutionStatus::Aborted, "{}", summary(&all));
    let message = row.error_message.as_deref().unwrap_or_default();
    assert!(
        message.contains("SIGTERM") && message.contains("grace of 1s"),
        "{message:?}"
    );
    assert!(row.completed_at.is_some());
    assert!(
        all.iter().all(|e| e.status != ExecutionStatus::Running),
        "{}",
        summary(&all)
    );
    let s = db.schedule("long@local").await;
    assert_eq!(s.lease_owner, None, "{s:?}");
    assert_eq!((s.run_count, s.failure_count), (1, 1), "{s:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !process_alive(pid),
        "the step's program (pid {pid}) outlived the aborted run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_run_that_ends_within_the_grace() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 10s}",
        &target.base,
        &[http_workflow("slowish", EVERY_SECOND, "/slow/1500/slowish")],
    );
    let db = Db::sqlite(dir.path());
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
    let run = running_row(&db, "slowish@local").await;
    let (status, took) = daemon.terminate().await;
    let log = daemon.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "exit {took:?} after SIGTERM: it waits for the run (1.5s), not for the grace (10s)\n{log}"
    );

    let all = db.executions().await;
    let row = all
        .iter()
        .find(|e| e.run_id == run.run_id)
        .expect("the run's row");
    assert_eq!(row.status, ExecutionStatus::Passed, "{}", summary(&all));
    assert!(
        all.iter()
            .all(|e| matches!(e.status, ExecutionStatus::Passed | ExecutionStatus::Skipped)),
        "{}",
        summary(&all)
    );
    assert_eq!(
        target.count("slowish"),
        all.iter().filter(|e| ran(e)).count()
    );
    let s = db.schedule("slowish@local").await;
    assert_eq!(s.lease_owner, None, "{s:?}");
    assert_eq!(s.run_count, s.success_count, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_start_up_stops_gracefully() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{}",
        &target.base,
        &[http_workflow("minutely", "* * * * *", "/ok/minutely")],
    );
    let db = Db::sqlite(dir.path());
    for attempt in 1..=20 {
        let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
        let (status, _) = daemon.terminate().await;
        let log = daemon.log();
        assert!(
            status.code() == Some(0) && log.contains("stopped:"),
            "attempt {attempt}: SIGTERM just after `wfmon running` ended the daemon with \
             {status} instead of a graceful stop:\n{log}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Crash.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_next_start_closes_the_interrupted_run_and_goes_on() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 1s}",
        &target.base,
        &[
            http_workflow("quick", EVERY_SECOND, "/ok/quick"),
            command_workflow("long", EVERY_SECOND, "echo $$ >> long.pids; exec sleep 20"),
        ],
    );
    let db = Db::sqlite(dir.path());
    let mut first = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "first").await;
    let first_instance = first.default_instance();
    let stuck = running_row(&db, "long@local").await;
    until("two passed runs", Duration::from_secs(10), async || {
        let n = db
            .executions()
            .await
            .iter()
            .filter(|e| e.status == ExecutionStatus::Passed)
            .count();
        (n >= 2).then_some(())
    })
    .await;
    first.kill9();
    let pids = std::fs::read_to_string(dir.path().join("long.pids")).unwrap_or_default();

    let before = db.executions().await;
    let row = before.iter().find(|e| e.run_id == stuck.run_id).unwrap();
    assert_eq!(
        row.status,
        ExecutionStatus::Running,
        "a killed process cannot close its run"
    );
    let done: Vec<_> = before
        .iter()
        .filter(|e| e.status == ExecutionStatus::Passed)
        .cloned()
        .collect();
    assert!(done.len() >= 2);
    let s = db.schedule("long@local").await;
    assert_eq!(
        s.lease_owner.as_deref(),
        Some(first_instance.as_str()),
        "{s:?}"
    );

    let mut second = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "second").await;
    let second_instance = second.default_instance();
    let log = second.log();
    assert!(
        log.contains("1 interrupted run(s) closed"),
        "the start-up closes the run the kill left RUNNING:\n{log}"
    );
    let after = db.executions().await;
    let row = after.iter().find(|e| e.run_id == stuck.run_id).unwrap();
    assert_eq!(row.status, ExecutionStatus::Aborted, "{}", summary(&after));
    let reason = row.error_message.as_deref().unwrap_or_default();
    assert!(
        reason.contains(&first_instance) && reason.contains("no longer running"),
        "the reason names the dead instance: {reason:?}"
    );
    assert!(row.completed_at.is_some(), "{row:?}");

    // New runs proceed, the long one too: the dead instance's claim was released at once.
    until(
        "new runs of both workflows",
        Duration::from_secs(5),
        async || {
            let all = db.executions().await;
            let mine = |schedule: &str, status: ExecutionStatus| {
                all.iter().any(|e| {
                    e.instance_id.as_deref() == Some(second_instance.as_str())
                        && e.schedule_id.as_deref() == Some(schedule)
                        && e.status == status
                })
            };
            (mine("quick@local", ExecutionStatus::Passed)
                && mine("long@local", ExecutionStatus::Running))
            .then_some(())
        },
    )
    .await;
    let (status, _) = second.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", second.log());

    let end = db.executions().await;
    for d in &done {
        let now = end.iter().find(|e| e.run_id == d.run_id).unwrap();
        assert_eq!(
            (now.status, now.completed_at, now.duration_ms),
            (d.status, d.completed_at, d.duration_ms),
            "results from before the kill are intact"
        );
    }
    // A due time the killed instance recorded as SKIPPED (its run still in flight) may be
    // run by the next one, since the kill can land before that schedule moved on; no due
    // time is ever run twice.
    let ran: Vec<WorkflowExecution> = end
        .iter()
        .filter(|e| e.status != ExecutionStatus::Skipped)
        .cloned()
        .collect();
    assert_due_times_unique(&ran, &second.log());
    assert!(
        end.iter().all(|e| e.status != ExecutionStatus::Running),
        "{}",
        summary(&end)
    );

    // The killed daemon's step program was orphaned; end it.
    for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("sleep") {
            // SAFETY: a signal to a process this test's daemon started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. Catch-up.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_missed_for_an_hour_runs_once_and_keeps_its_cadence() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[http_workflow("minutely", "* * * * *", "/ok/minutely")],
    );
    let db = Db::sqlite(dir.path());
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "first").await;
    // Not at once: see `sigterm_right_after_start_up_stops_gracefully`.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = daemon.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    let before = db.executions().await.len();
    let s = db.schedule("minutely@local").await;
    assert!(s.next_run_at.unwrap().as_datetime() > Utc::now() - TimeDelta::seconds(5));

    // The machine was off for an hour: 60 due times passed.
    let missed = (Utc::now() - TimeDelta::hours(1))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    db.set_next_run_at("minutely@local", missed.into()).await;

    let restart = Utc::now();
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "second").await;
    let instance = daemon.default_instance();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = daemon.terminate().await;
    let stopped = Utc::now();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());

    let all = db.executions().await;
    let text = summary(&all);
    let mine: Vec<_> = all
        .iter()
        .filter(|e| e.instance_id.as_deref() == Some(instance.as_str()))
        .collect();
    let catch_up: Vec<_> = mine.iter().filter(|e| due_at(e) < restart).collect();
    assert_eq!(
        catch_up.len(),
        1,
        "one run for the whole downtime, not one per missed minute\n{text}"
    );
    let run = catch_up[0];
    assert_eq!(due_at(run), missed, "it runs for the stored due time");
    assert_eq!(run.status, ExecutionStatus::Passed, "{text}");
    assert!(
        run.started_at.as_datetime() - restart < TimeDelta::seconds(2),
        "the overdue run starts at once\n{text}"
    );
    // Only a minute boundary crossed while it ran could add a run.
    let boundaries = (restart.timestamp() / 60..stopped.timestamp() / 60).count();
    assert!(
        mine.len() <= 1 + boundaries,
        "{} runs in 2.5s\n{text}",
        mine.len()
    );
    assert!(mine.iter().all(|e| ran(e)), "{text}");
    assert_eq!(all.len(), before + mine.len());
    assert_eq!(target.count("minutely"), all.len());

    let s = db.schedule("minutely@local").await;
    let next = s.next_run_at.expect("next_run_at").as_datetime();
    assert!(
        next > run.started_at.as_datetime() && next <= stopped + TimeDelta::minutes(1),
        "next_run_at moved to the next minute after now: {next}"
    );
    assert_eq!(
        (next.second(), next.nanosecond()),
        (0, 0),
        "the cadence is kept"
    );
    assert_eq!(s.run_count, all.len() as i64, "{s:?}");
    assert!(s.last_run_at.unwrap().as_datetime() >= restart, "{s:?}");
}

// ---------------------------------------------------------------------------------------
// 6. Two instances on one PostgreSQL database.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_share_the_due_runs_and_the_survivor_takes_over_after_a_kill() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let names = ["w1", "w2", "w3", "w4"];
    let workflows: Vec<String> = names
        .iter()
        .map(|n| http_workflow(n, EVERY_SECOND, &format!("/slow/400/{n}")))
        .collect();
    for instance in ["alpha", "beta"] {
        write_config(
            dir.path(),
            &format!("{instance}.yaml"),
            &format!("{{concurrency: 2, lease: 3s, shutdown_grace: 5s, instance_id: {instance}}}"),
            &target.base,
            &workflows,
        );
    }
    let mut alpha = Daemon::start(dir.path(), "alpha.yaml", &db.url, "alpha");
    let mut beta = Daemon::start(dir.path(), "beta.yaml", &db.url, "beta");
    alpha.wait_for_log("wfmon running").await;
    beta.wait_for_log("wfmon running").await;
    let both_up = Utc::now();
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Kill beta while it has a run in flight.
    until(
        "a RUNNING execution of beta",
        Duration::from_secs(5),
        async || {
            let all = db.executions().await;
            all.iter()
                .any(|e| {
                    e.status == ExecutionStatus::Running && e.instance_id.as_deref() == Some("beta")
                })
                .then_some(())
        },
    )
    .await;
    beta.kill9();
    let killed = Utc::now();
    let orphaned: Vec<String> = db
        .executions()
        .await
        .into_iter()
        .filter(|e| {
            e.status == ExecutionStatus::Running && e.instance_id.as_deref() == Some("beta")
        })
        .map(|e| e.run_id)
        .collect();
    assert!(!orphaned.is_empty());

    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, _) = alpha.terminate().await;
    assert_eq!(status.code(), Some(0), "{}", alpha.log());

    let all = db.executions().await;
    let text = summary(&all);
    assert_due_times_unique(&all, &format!("{}\n{}", alpha.log(), beta.log()));
    for instance in ["alpha", "beta"] {
        let n = all
            .iter()
            .filter(|e| e.instance_id.as_deref() == Some(instance) && ran(e))
            .count();
        assert!(n >= 4, "{instance} ran only {n} run(s)\n{text}");
    }
    // Before the kill, every due second of every schedule ran once (the edges aside).
    let steady_from = ceil_second(both_up) + TimeDelta::seconds(1);
    let steady_to = killed.with_nanosecond(0).unwrap() - TimeDelta::seconds(1);
    assert!(steady_to - steady_from >= TimeDelta::seconds(3));
    for name in names {
        let schedule = format!("{name}@local");
        let dues: BTreeSet<_> = of_schedule(&all, &schedule)
            .iter()
            .filter(|e| ran(e))
            .map(|e| due_at(e))
            .collect();
        let mut t = steady_from;
        while t <= steady_to {
            assert!(dues.contains(&t), "{schedule} did not run for {t}\n{text}");
            t += TimeDelta::seconds(1);
        }
        // After beta's leases expired (3s), alpha runs every schedule on its own.
        let late = of_schedule(&all, &schedule)
            .into_iter()
            .filter(|e| {
                e.instance_id.as_deref() == Some("alpha")
                    && e.status == ExecutionStatus::Passed
                    && due_at(e) > killed + TimeDelta::seconds(3)
            })
            .count();
        assert!(
            late >= 1,
            "the survivor did not take over {schedule} (killed at {killed})\n{text}"
        );
    }
    for run_id in &orphaned {
        let e = all.iter().find(|e| &e.run_id == run_id).unwrap();
        assert_eq!(e.status, ExecutionStatus::Aborted, "{text}");
        let reason = e.error_message.as_deref().unwrap_or_default();
        assert!(
            reason.contains("beta") && reason.contains("stopped renewing"),
            "{reason:?}"
        );
    }
    assert!(
        all.iter().all(|e| e.status != ExecutionStatus::Running),
        "{text}"
    );
    // Every request the target received is a recorded run, and the other way round.
    assert_eq!(
        target.hits().len(),
        all.iter().filter(|e| ran(e)).count(),
        "{text}"
    );
    for s in db.schedules().await {
        assert_eq!(s.run_count, s.success_count + s.failure_count, "{s:?}");
        assert_ne!(s.lease_owner.as_deref(), Some("alpha"), "{s:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 7. Database outages on PostgreSQL.

/// A TCP proxy to PostgreSQL that the test can cut: while down, it closes every connection
/// and every new one at once, as a lost network would.
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, streams2) = (up.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = streams2.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                drop(kept);
                let (mut c1, mut s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c2, mut s2) = (client, server);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c1, &mut s1);
                    let _ = s1.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy { addr, up, streams }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// What both outage tests check once the daemon has stopped: the run in flight at the cut
/// and every run the target saw are recorded, runs resumed, and the log tells the story.
async fn check_after_outage(
    db: &Db,
    target: &Target,
    daemon: &Daemon,
    in_flight: &WorkflowExecution,
    cut: DateTime<Utc>,
    restored: DateTime<Utc>,
) {
    let log = daemon.log();
    let all = db.executions().await;
    let text = summary(&all);
    let row = all
        .iter()
        .find(|e| e.run_id == in_flight.run_id)
        .unwrap_or_else(|| panic!("the run in flight at the cut is gone\n{text}"));
    assert_eq!(
        row.status,
        ExecutionStatus::Passed,
        "the run in flight at the cut finished during the outage and is written after it\n{text}\n{log}"
    );
    assert!(
        completed(row) > cut && completed(row) < restored,
        "it finished during the outage: {row:?}"
    );
    let runs: Vec<_> = all.iter().filter(|e| ran(e)).collect();
    assert_eq!(
        target.count("outage"),
        runs.len(),
        "every request the target received is a recorded run (none lost)\n{text}\n{log}"
    );
    assert!(
        runs.iter().all(|e| e.status == ExecutionStatus::Passed),
        "{text}"
    );
    assert!(
        runs.iter().any(|e| due_at(e) > restored),
        "runs resume after the outage\n{text}\n{log}"
    );
    assert_due_times_unique(&all, &log);
    let s = db.schedule("outage@local").await;
    assert_eq!(s.run_count, runs.len() as i64, "{s:?}");
    assert_eq!(s.lease_owner, None, "{s:?}");
    assert!(
        log.contains("cannot reach the database") || log.contains("cannot write results"),
        "the outage is logged:\n{log}"
    );
    assert!(
        log.contains("reachable again"),
        "the recovery is logged:\n{log}"
    );
    let during = target
        .hits()
        .iter()
        .filter(|h| h.at > cut + TimeDelta::milliseconds(800) && h.at < restored)
        .count();
    assert!(
        during >= 2,
        "runs go on during an outage of {}ms (one due a second), yet {during} request(s) \
         reached the target\n{text}\n{log}",
        (restored - cut).num_milliseconds()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_of_runs_during_a_network_outage_are_written_after_it() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let pg = db.pg.as_ref().unwrap();
    let proxy = Proxy::start(pg_host_port(&pg.base));
    let through_proxy = pg_url(&pg.base, Some(&proxy.addr), &pg.name);
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[http_workflow("outage", EVERY_SECOND, "/slow/700/outage")],
    );
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &through_proxy, "daemon").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The target answers in 700 ms: cut while at least 400 ms of the run remain.
    let in_flight = young_running_row(&db, "outage@local", Duration::from_millis(300)).await;
    proxy.cut();
    let cut = Utc::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    let restored = Utc::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _) = daemon.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "nothing was lost:\n{}",
        daemon.log()
    );
    check_after_outage(&db, &target, &daemon, &in_flight, cut, restored).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_of_runs_while_the_database_refuses_connections_are_written_after_it() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let name = db.pg.as_ref().unwrap().name.clone();
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[http_workflow("outage", EVERY_SECOND, "/slow/700/outage")],
    );
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &db.url, "daemon").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The target answers in 700 ms: cut while at least 400 ms of the run remain.
    let in_flight = young_running_row(&db, "outage@local", Duration::from_millis(300)).await;
    db.admin(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid();"
    ))
    .await;
    let cut = Utc::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    db.admin(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await;
    let restored = Utc::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _) = daemon.terminate().await;
    assert_eq!(
        status.code(),
        Some(0),
        "nothing was lost:\n{}",
        daemon.log()
    );
    check_after_outage(&db, &target, &daemon, &in_flight, cut, restored).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_every_due_time_runs_even_beside_a_schedule_that_overlaps() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let pg = db.pg.as_ref().unwrap();
    let proxy = Proxy::start(pg_host_port(&pg.base));
    let through_proxy = pg_url(&pg.base, Some(&proxy.addr), &pg.name);
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    // `slow` is still in flight at each of its due times, so each turn of the loop records a
    // SKIPPED row for it; `quick` never overlaps.
    write_config(
        dir.path(),
        "wfmon.yaml",
        "{shutdown_grace: 5s}",
        &target.base,
        &[
            http_workflow("quick", EVERY_SECOND, "/ok/quick"),
            http_workflow("slow", EVERY_SECOND, "/slow/1500/slow"),
        ],
    );
    let mut daemon = Daemon::running(dir.path(), "wfmon.yaml", &through_proxy, "daemon").await;
    running_row(&db, "slow@local").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.cut();
    let cut = Utc::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    proxy.restore();
    let restored = Utc::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, _) = daemon.terminate().await;
    let log = daemon.log();
    assert_eq!(status.code(), Some(0), "nothing was lost:\n{log}");

    let all = db.executions().await;
    let text = summary(&all);
    assert_due_times_unique(&all, &log);
    let quick = of_schedule(&all, "quick@local");
    assert!(
        quick.iter().all(|e| e.status == ExecutionStatus::Passed),
        "a run that never overlaps is never SKIPPED\n{text}\n{log}"
    );
    // Every due second of the outage (past the moment it is noticed) has its run.
    let dues: BTreeSet<DateTime<Utc>> = quick.iter().map(|e| due_at(e)).collect();
    let mut second = ceil_second(cut + TimeDelta::seconds(3));
    let mut missing = Vec::new();
    while second < restored - TimeDelta::seconds(1) {
        if !dues.contains(&second) {
            missing.push(second);
        }
        second += TimeDelta::seconds(1);
    }
    assert!(
        missing.is_empty(),
        "due times of the outage never ran: {missing:?}\n{text}\n{log}"
    );
    assert_eq!(target.count("/ok/quick"), quick.len(), "{text}");
    let slow = of_schedule(&all, "slow@local");
    assert!(
        slow.iter().any(|e| e.status == ExecutionStatus::Skipped
            && due_at(e) > cut
            && due_at(e) < restored),
        "the overlapping schedule was skipped during the outage\n{text}"
    );
    for id in ["quick@local", "slow@local"] {
        let s = db.schedule(id).await;
        let ran = of_schedule(&all, id).iter().filter(|e| ran(e)).count();
        assert_eq!(s.run_count, ran as i64, "{s:?}");
        assert_eq!(s.run_count, s.success_count + s.failure_count, "{s:?}");
    }
    // The outage is told once, and its end once, when it ends.
    assert_eq!(
        log.matches("scheduler cannot reach the database").count(),
        1,
        "{log}"
    );
    assert!(
        !log.contains("scheduler reaches the database again"),
        "no recovery is claimed while the database is still out of reach:\n{log}"
    );
    assert_eq!(
        log.matches("database reachable again: runs are claimed in it again")
            .count(),
        1,
        "{log}"
    );
}
