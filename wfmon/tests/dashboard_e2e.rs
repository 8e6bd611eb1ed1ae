//! The dashboard end to end, as a person uses it: the real `wfmon run` daemon on a temporary
//! configuration and SQLite file, and a real headless Chromium driven over the DevTools
//! protocol (a small client over a WebSocket). It logs in through the login form, sees the
//! overview, starts a run with the
//! button and sees it appear without a reload, opens the execution page, and acknowledges
//! an alert. A PNG screenshot of each page goes to `$CARGO_TARGET_DIR/screenshots/` (or
//! `target/screenshots/`).
//!
//! Without `chromium` on PATH the test is skipped with a note, except under CI, where it
//! fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A Chrome DevTools protocol session with one page.
struct Page {
    socket: Socket,
    next_id: u64,
}

impl Page {
    /// Calls `method` and returns its result; events in between are ignored.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::Text(request.to_string().into()))
            .await
            .expect("send to the browser");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer from the browser"))
                .expect("the browser closed the connection")
                .expect("read from the browser");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("protocol JSON");
            if value["id"] == id {
                if let Some(error) = value.get("error") {
                    panic!("{method}: {error}");
                }
                return value["result"].clone();
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page; panics with `what` after `limit`.
    async fn wait_for(&mut self, expression: &str, limit: Duration, what: &str) -> Duration {
        let started = Instant::now();
        loop {
            if self.eval(expression).await == json!(true) {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                let body = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("{what}: not within {limit:?}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens `url` and waits until it has loaded and its live updates are connected.
    async fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(
            &format!(
                "document.readyState === 'complete' && location.href === {} && \
                 document.body.getAttribute('data-live') === 'connected'",
                json!(url)
            ),
            Duration::from_secs(15),
            &format!("loading {url}"),
        )
        .await;
    }

    /// Saves a PNG of the whole page as `dir/name.png`.
    async fn screenshot(&mut self, dir: &Path, name: &str) {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        // The viewport's width: boxes that scroll sideways do not widen the picture.
        let width = metrics["cssLayoutViewport"]["clientWidth"]
            .as_f64()
            .or(size["width"].as_f64())
            .unwrap_or(1280.0);
        let height = size["height"].as_f64().unwrap_or(900.0).min(4000.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

/// The elements that reach past the right edge of the screen, outside any box that scrolls.
const WIDER_THAN_THE_SCREEN: &str = "[...document.querySelectorAll('body *')]\
    .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)\
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))";

/// Kills a child process when dropped (the test may panic).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        // SIGTERM first, so that wfmon stops cleanly.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

/// The daemon's configuration: a workflow that passes and one that fails, neither due
/// during the test, and a rule that opens an alert at the first failure.
fn config(port: u16) -> String {
    format!(
        r#"server: {{listen: "127.0.0.1:{port}"}}
workflows:
  - name: checkout
    description: "Buys a <b>thing</b>"
    schedule: "0 0 1 1 *"
    steps:
      - name: truth
        command: {{run: ["true"]}}
  - name: payments
    schedule: "0 0 1 1 *"
    steps:
      - name: falsehood
        command: {{run: ["false"]}}
notifications:
  channels:
    log: {{console: {{}}}}
alerts:
  rules:
    - {{name: down, when: {{consecutive_failures: 1}}, channels: [log]}}
"#
    )
}

async fn start_chromium(binary: &Path, profile: &Path) -> (Guard, String) {
    let mut child = Command::new(binary)
        .args([
            "--headless=new",
            "--remote-debugging-port=0",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let guard = Guard(child);
    let stderr = tokio::process::ChildStderr::from_std(stderr).unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("ws://") {
                return Some(line[at..].trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("chromium printed no DevTools address");
    // Keep reading its stderr so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (guard, found)
}

/// The page target's WebSocket address, from the browser's `/json/list`.
async fn page_socket(browser_ws: &str) -> String {
    let host = browser_ws
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let list: Value = reqwest::get(format!("http://{host}/json/list"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned()
}

fn start_daemon(dir: &Path, database: &str) -> Guard {
    Guard(
        Command::new(env!("CARGO_BIN_EXE_wfmon"))
            .args(["run", "--database", database])
            .current_dir(dir)
            .env_remove("WFMON_DATABASE_URL")
            .env_remove("WFMON_CONFIG")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wfmon run"),
    )
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "wfmon run did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_watches_runs_live_and_acknowledges_an_alert() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but chromium is not on PATH (.ci/run installs it)");
        }
        eprintln!("skipping the dashboard end-to-end test: chromium is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(dir.path().join("wfmon.yaml"), config(port)).unwrap();
    let database = format!("sqlite://{}", dir.path().join("wfmon.db").display());
    // Authentication is on: an admin token for the test's own API calls, a user to log in.
    let wfmon = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wfmon"))
            .args(args)
            .args(["--database", &database])
            .current_dir(dir.path())
            .env_remove("WFMON_DATABASE_URL")
            .env_remove("WFMON_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let token = wfmon(&["token", "create", "--name", "e2e", "--role", "admin"], "");
    wfmon(
        &["user", "add", "ops", "--role", "admin", "--password-stdin"],
        "a long enough password\n",
    );
    let mut daemon = start_daemon(dir.path(), &database);
    let base = format!("http://127.0.0.1:{port}");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    wait_ready(&http, &base).await;

    // A failing run opens an alert (consecutive failures: 1).
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = http
        .post(format!("{base}/api/workflows/payments/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let alert_id = loop {
        let alerts: Value = http
            .get(format!("{base}/api/alerts?status=ACTIVE"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(id) = alerts["items"][0]["alertId"].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no alert opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let profile = tempfile::tempdir().unwrap();
    let (_browser, browser_ws) = start_chromium(&browser, profile.path()).await;
    let (socket, _) = tokio_tungstenite::connect_async(page_socket(&browser_ws).await)
        .await
        .expect("connect to the page");
    let mut page = Page { socket, next_id: 0 };
    page.call("Page.enable", json!({})).await;
    page.call("Runtime.enable", json!({})).await;
    let shots = screenshot_dir();

    // Logging in: the form, then back to the page asked for.
    page.call(
        "Page.navigate",
        json!({"url": format!("{base}/workflows/checkout")}),
    )
    .await;
    page.wait_for(
        "location.pathname === '/login' && document.readyState === 'complete'",
        Duration::from_secs(15),
        "the redirect to the login",
    )
    .await;
    page.eval(
        "document.querySelector('#username').value = 'ops'; \
         document.querySelector('#password').value = 'a long enough password'; \
         document.querySelector('form').submit(); true",
    )
    .await;
    page.wait_for(
        "location.pathname === '/workflows/checkout' && document.readyState === 'complete' \
         && document.querySelector('meta[name=\"csrf-token\"]') !== null",
        Duration::from_secs(15),
        "the workflow page after logging in",
    )
    .await;

    // The overview: both workflows, the failing one marked as such in words too.
    page.open(&format!("{base}/")).await;
    let grid = page
        .eval("document.querySelector('table.grid').innerText")
        .await;
    let grid = grid.as_str().unwrap();
    assert!(
        grid.contains("checkout") && grid.contains("payments"),
        "{grid}"
    );
    assert!(
        grid.contains("FAILED") && grid.contains("NO RUNS"),
        "{grid}"
    );
    assert_eq!(
        page.eval("document.querySelector('#nav-alerts').textContent.trim()")
            .await,
        json!("1 open")
    );
    page.screenshot(&shots, "overview").await;
    // The keyboard's first stop is the skip link, and it leads to the content.
    for kind in ["keyDown", "keyUp"] {
        page.call(
            "Input.dispatchKeyEvent",
            json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
        )
        .await;
    }
    assert_eq!(
        page.eval("document.activeElement.getAttribute('href')")
            .await,
        json!("#main")
    );

    // The workflow page: "Run now", and the run appears without a reload.
    page.open(&format!("{base}/workflows/checkout")).await;
    assert_eq!(
        page.eval("document.querySelectorAll('tr[data-run]').length")
            .await,
        json!(0)
    );
    page.eval("window.notReloaded = true").await;
    page.eval("document.querySelector('button.act.primary').click()")
        .await;
    let took = page
        .wait_for(
            "window.notReloaded === true && [...document.querySelectorAll('tr[data-run]')]\
             .some(r => r.innerText.includes('PASSED'))",
            Duration::from_secs(10),
            "the finished run on the workflow page",
        )
        .await;
    eprintln!("the run showed as PASSED {took:?} after the click");
    page.screenshot(&shots, "workflow").await;

    // A run started elsewhere shows on the overview within a second of being recorded.
    page.open(&format!("{base}/")).await;
    page.eval("window.notReloaded = true").await;
    let before = page
        .eval("document.querySelector('td[data-workflow=\"checkout\"]').innerText")
        .await;
    assert!(before.as_str().unwrap().contains("1 runs"), "{before}");
    let answer = http
        .post(format!("{base}/api/workflows/checkout/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let took = page
        .wait_for(
            "window.notReloaded === true && document.querySelector('td[data-workflow=\"checkout\"]')\
             .innerText.includes('2 runs')",
            Duration::from_secs(5),
            "the second run on the overview",
        )
        .await;
    eprintln!("the run started through the API showed on the overview after {took:?}");
    // The run itself takes milliseconds: what remains is recording it and the page's update.
    assert!(
        took < Duration::from_millis(1500),
        "the overview took {took:?} to show a finished run"
    );

    // The execution page, opened from the workflow page's list.
    page.open(&format!("{base}/workflows/checkout")).await;
    page.eval("document.querySelector('tr[data-run] a').click()")
        .await;
    page.wait_for(
        "location.pathname.startsWith('/executions/') && document.readyState === 'complete' \
         && document.body.getAttribute('data-live') === 'connected'",
        Duration::from_secs(10),
        "the execution page",
    )
    .await;
    let text = page.eval("document.querySelector('main').innerText").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("truth") && text.contains("PASSED") && text.contains("API"),
        "{text}"
    );
    page.screenshot(&shots, "execution").await;

    // The alerts page: acknowledge the open alert with its button.
    page.open(&format!("{base}/alerts")).await;
    page.screenshot(&shots, "alerts").await;
    let button =
        format!("document.querySelector('li[data-alert=\"{alert_id}\"] button.act.primary')");
    assert_eq!(
        page.eval(&format!("{button}.textContent.trim()")).await,
        json!("Acknowledge payments in production")
    );
    page.eval(&format!("{button}.click()")).await;
    page.wait_for(
        &format!(
            "(document.querySelector('li[data-alert=\"{alert_id}\"]') || {{innerText: ''}})\
             .innerText.includes('ACKNOWLEDGED')"
        ),
        Duration::from_secs(10),
        "the acknowledged alert",
    )
    .await;
    let alert: Value = http
        .get(format!("{base}/api/alerts/{alert_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alert["status"], "ACKNOWLEDGED");
    assert_eq!(
        alert["acknowledgedBy"], "ops",
        "the logged-in user is who acted"
    );
    page.screenshot(&shots, "alerts-acknowledged").await;

    // Silence it with the form: a reason is typed, a length chosen.
    let item = format!("document.querySelector('li[data-alert=\"{alert_id}\"]')");
    page.eval(&format!(
        "{item}.querySelector('details').open = true; \
         {item}.querySelector('select[name=for]').value = '4h'; \
         {item}.querySelector('input[name=reason]').value = 'deploy <tonight>'; \
         {item}.querySelector('form button[type=submit]').click()"
    ))
    .await;
    page.wait_for(
        &format!("({item} || {{innerText: ''}}).innerText.includes('deploy <tonight>')"),
        Duration::from_secs(10),
        "the silenced alert",
    )
    .await;
    let alert: Value = http
        .get(format!("{base}/api/alerts/{alert_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alert["status"], "SILENCED");
    assert_eq!(alert["metadata"]["silenceReason"], "deploy <tonight>");
    page.screenshot(&shots, "alerts-silenced").await;

    page.open(&format!("{base}/reports")).await;
    page.screenshot(&shots, "reports").await;

    // On a phone, in the dark theme.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await;
    page.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    )
    .await;
    for (path, name) in [
        ("/", "overview-phone-dark"),
        ("/workflows/checkout", "workflow-phone-dark"),
        ("/alerts?status=all", "alerts-phone-dark"),
    ] {
        page.open(&format!("{base}{path}")).await;
        // Wide tables scroll inside their own box; the page itself never scrolls sideways.
        let wider = page.eval(WIDER_THAN_THE_SCREEN).await;
        assert_eq!(wider, json!([]), "{path} is wider than a phone");
        page.screenshot(&shots, name).await;
    }

    // The server goes away and comes back: the page reconnects by itself and shows what
    // happened meanwhile, still without a reload.
    page.open(&format!("{base}/workflows/checkout")).await;
    page.eval("window.notReloaded = true").await;
    let runs_before = page
        .eval("document.querySelectorAll('tr[data-run]').length")
        .await
        .as_u64()
        .unwrap();
    drop(daemon);
    page.wait_for(
        "document.body.getAttribute('data-live') === 'reconnecting'",
        Duration::from_secs(10),
        "the page noticing the server is gone",
    )
    .await;
    daemon = start_daemon(dir.path(), &database);
    wait_ready(&http, &base).await;
    let answer = http
        .post(format!("{base}/api/workflows/checkout/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let took = page
        .wait_for(
            &format!(
                "window.notReloaded === true && document.body.getAttribute('data-live') === \
                 'connected' && document.querySelectorAll('tr[data-run]').length > {runs_before}"
            ),
            Duration::from_secs(30),
            "the run after the server came back",
        )
        .await;
    eprintln!("after the restart, the new run showed {took:?} after it was started");
    drop(daemon);
}
