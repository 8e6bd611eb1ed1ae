//! `wfmon run` with a `reports:` schedule due every five seconds (cron with seconds): the
//! real daemon binary runs a workflow every second against a real HTTP target on 127.0.0.1
//! and generates its reports on its own clock; each lands in `monitoring_reports`, is
//! delivered to a real webhook receiver on 127.0.0.1 and marked notified.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// An HTTP server on 127.0.0.1 answering 200 `{"ok": true}` to anything, keeping each
/// request's body.
fn http_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let kept = kept.clone();
            std::thread::spawn(move || answer(stream, &kept));
        }
    });
    (base, bodies)
}

fn answer(mut stream: TcpStream, bodies: &Mutex<Vec<String>>) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let body_start = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < body_start + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    if length > 0 {
        bodies
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&data[body_start..body_start + length]).into_owned());
    }
    let body = r#"{"ok": true}"#;
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child, not yet waited for.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(sqlx::FromRow, Debug)]
struct ReportRow {
    report_id: String,
    report_type: String,
    total_runs: i64,
    notified: bool,
}

async fn reports(db: &Path) -> Vec<ReportRow> {
    let Ok(mut conn) = SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
    else {
        return Vec::new();
    };
    let rows = sqlx::query_as::<_, ReportRow>(
        "SELECT report_id, report_type, total_runs, notified FROM monitoring_reports \
         ORDER BY end_time",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    conn.close().await.ok();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_schedule_due_every_five_seconds_is_generated_and_delivered() {
    let (target, _) = http_server();
    let (receiver, bodies) = http_server();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "defaults: {{timezone: UTC}}\n\
         environments:\n  local: {{variables: {{base_url: \"{target}\"}}}}\n\
         workflows:\n  - name: ping\n    schedule: \"* * * * * *\"\n    steps:\n      \
         - name: call\n        http: {{url: \"{{{{ base_url }}}}/ok\"}}\n        \
         assert: [\"status == 200\"]\n\
         notifications:\n  channels:\n    hook: {{webhook: {{url: \"{receiver}/hook\"}}}}\n\
         reports:\n  - {{name: every-5s, schedule: \"*/5 * * * * *\", window: 1m, \
         channels: [hook]}}\n"
    );
    std::fs::write(dir.path().join("wfmon.yaml"), config).unwrap();
    let db = dir.path().join("wfmon.db");
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wfmon"))
        .args(["-c", "wfmon.yaml", "--database"])
        .arg(format!("sqlite://{}", db.display()))
        .arg("run")
        .current_dir(dir.path())
        .env_remove("WFMON_DATABASE_URL")
        .env_remove("WFMON_CONFIG")
        .env_remove("WFMON_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start wfmon run");
    let daemon = Daemon(child);

    // A report that counted runs, delivered: the daemon found it due on its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        let found = reports(&db).await;
        if let Some(r) = found.into_iter().find(|r| r.total_runs > 0 && r.notified) {
            break r;
        }
        let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no delivered report with runs within 30s:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(daemon);
    assert_eq!(report.report_type, "PERIODIC");
    assert!(
        report.report_id.starts_with("report_every-5s_"),
        "{report:?}"
    );
    let delivered: Vec<Value> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let body = delivered
        .iter()
        .find(|b| {
            b["title"]
                .as_str()
                .is_some_and(|t| t.contains("report every-5s"))
                && b["report"]["runs"] == report.total_runs
        })
        .unwrap_or_else(|| panic!("no delivery of {report:?} in {delivered:?}"));
    assert_eq!(body["type"], "REPORT", "{body}");
    assert_eq!(body["report"]["name"], "every-5s", "{body}");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("report `every-5s` generated"), "{log}");
    assert!(
        !log.contains(&format!("{receiver}/hook")),
        "no URL in the log:\n{log}"
    );
}
