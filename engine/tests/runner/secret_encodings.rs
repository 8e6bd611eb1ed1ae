//! A `${ENV}` secret with characters that URLs, forms and JSON encode, sent in every way a
//! step can send it (`query:`, the URL's query and path, a form, a JSON body), to a port
//! nothing listens on and to a server that echoes the request: no form of it reaches the
//! steps' errors, the assertions' values, the recorded execution or a redacted message.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::http::{StatusCode, Uri};
use wfmon_engine::config::Config;
use wfmon_engine::executor::{Recording, execute};
use wfmon_engine::recorder::RunIdentity;
use wfmon_engine::runner::{RunObserver, RunOutcome, StepOutcome};
use wfmon_model::{ExecutionStatus, StepStatus, TriggeredBy, new_id};
use wfmon_store::{DatabaseUrl, OpenMode, Store};

const VAR: &str = "WFMON_TEST_ENCODED_SECRET";

/// Every encoding changes it: `/`, `+`, `=`, space, `&`, a quote and non-ASCII text. Each of
/// its forms holds `Sekret`, so a form left anywhere shows as `Sekret`.
const SECRET: &str = "Sekret \"pass\"/ü&z=1+k==";

const WORKFLOW: &str = r#"
environments:
  test:
    variables:
      base_url: "BASE"
workflows:
  - name: w
    steps:
      - name: query
        continue_on_failure: true
        http: {url: "{{ base_url }}/q", query: {k: "${WFMON_TEST_ENCODED_SECRET}"}}
        assert: ['body == "x"']
      - name: url query
        continue_on_failure: true
        http: {url: "{{ base_url }}/u?k=${WFMON_TEST_ENCODED_SECRET}"}
        assert: ['text == "x"']
      - name: url path
        continue_on_failure: true
        http: {url: "{{ base_url }}/p/${WFMON_TEST_ENCODED_SECRET}"}
        assert: ['text == "x"']
      - name: form
        continue_on_failure: true
        http: {method: POST, url: "{{ base_url }}/f", form: {k: "${WFMON_TEST_ENCODED_SECRET}"}}
        assert: ['text == "x"']
      - name: json
        http: {method: POST, url: "{{ base_url }}/j", json: {k: "${WFMON_TEST_ENCODED_SECRET}"}}
        assert: ['"x" == text']
"#;

fn config(base: &str) -> Config {
    // SAFETY: the variable name is unique to this file and always set to the same value.
    unsafe { std::env::set_var(VAR, SECRET) };
    let config = Config::parse(&WORKFLOW.replace("BASE", base), Path::new("test.yaml")).unwrap();
    assert_eq!(config.secrets, vec![SECRET]);
    config
}

/// Answers every request with 400 and a body that repeats it, as a careless server would;
/// keeps what it received.
async fn echo_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let router = axum::Router::new().fallback(move |uri: Uri, body: String| {
        let log = log.clone();
        async move {
            let echo = format!("bad request to {uri} body={body}");
            log.lock().unwrap().push(echo.clone());
            (StatusCode::BAD_REQUEST, echo)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, seen)
}

async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Keeps every finished step as an observer sees it (what `wfmon check` prints).
#[derive(Default)]
struct Printed(Mutex<Vec<String>>);

impl RunObserver for Printed {
    fn step_finished(&self, outcome: &StepOutcome) {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::to_string(outcome).unwrap());
    }
}

/// Runs the workflow through the executor into a fresh SQLite store; returns the outcome,
/// what the observer saw, and the recorded execution with its steps, as JSON.
async fn run_and_record(config: &Config) -> (RunOutcome, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("w.db").display())).unwrap();
    let store = Store::open(&url, OpenMode::Create).await.unwrap();
    let identity = RunIdentity {
        run_id: new_id("run"),
        workflow: "w".into(),
        environment: "test".into(),
        triggered_by: TriggeredBy::Manual,
        attempt: 1,
        first_run_id: None,
        schedule_id: None,
        instance_id: "test".into(),
        due_at: None,
    };
    let printed = Printed::default();
    let (mut attempts, errors) = execute(
        config,
        &config.workflows[0],
        &config.environments["test"],
        identity.clone(),
        Recording::Direct(&store),
        &printed,
        None,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let detail = store
        .execution_detail(&identity.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.steps.len(), 5);
    let recorded = serde_json::to_string(&detail).unwrap();
    let printed = printed.0.into_inner().unwrap();
    (attempts.remove(0).outcome, printed, recorded)
}

/// Fails naming where a form of the secret was found.
fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains("Sekret"), "{what} shows the secret: {text}");
}

fn assert_nothing_leaks(outcome: &RunOutcome, printed: &[String], recorded: &str) {
    for step in &outcome.steps {
        assert_hidden(&format!("step `{}`", step.name), &format!("{step:?}"));
    }
    assert_hidden(
        "the run's error",
        outcome.error.as_deref().unwrap_or_default(),
    );
    assert_hidden("the outcome", &serde_json::to_string(outcome).unwrap());
    for line in printed {
        assert_hidden("a printed step", line);
    }
    assert_hidden("the recorded execution", recorded);
    // What is checked does hold the messages, the secret replaced.
    assert!(recorded.contains("/q?k=***"), "{recorded}");
    assert!(
        printed.iter().any(|p| p.contains("/q?k=***")),
        "{printed:?}"
    );
}

#[tokio::test]
async fn an_unreachable_target_shows_no_form_of_the_secret() {
    let port = closed_port().await;
    let config = config(&format!("http://127.0.0.1:{port}"));
    let (outcome, printed, recorded) = run_and_record(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    let errors: Vec<&str> = outcome
        .steps
        .iter()
        .map(|s| s.error.as_deref().unwrap_or_default())
        .collect();
    let at = format!("http://127.0.0.1:{port}");
    assert_eq!(errors.len(), 5);
    for (error, shown) in errors.iter().zip([
        format!("GET {at}/q?k=***: cannot connect"),
        format!("GET {at}/u?k=***: cannot connect"),
        format!("GET {at}/p/***: cannot connect"),
        format!("POST {at}/f: cannot connect"),
        format!("POST {at}/j: cannot connect"),
    ]) {
        assert!(error.starts_with(&shown), "{error}\nshould start {shown}");
    }
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .starts_with(&format!("step `query`: GET {at}/q?k=***: cannot connect")),
        "{:?}",
        outcome.error
    );
    assert_nothing_leaks(&outcome, &printed, &recorded);
}

#[tokio::test]
async fn an_echoing_server_shows_no_form_of_the_secret() {
    let (base, seen) = echo_server().await;
    let config = config(&base);
    let (outcome, printed, recorded) = run_and_record(&config).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);

    // The server received the secret in each of its encodings, and said so.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            "bad request to /q?k=Sekret+%22pass%22%2F%C3%BC%26z%3D1%2Bk%3D%3D body=",
            "bad request to /u?k=Sekret%20%22pass%22/%C3%BC&z=1+k== body=",
            "bad request to /p/Sekret%20%22pass%22/%C3%BC&z=1+k== body=",
            "bad request to /f body=k=Sekret+%22pass%22%2F%C3%BC%26z%3D1%2Bk%3D%3D",
            "bad request to /j body={\"k\":\"Sekret \\\"pass\\\"/ü&z=1+k==\"}",
        ]
    );

    // The assertions show what came back, the secret hidden.
    let actual: Vec<(&str, StepStatus, Option<&str>)> = outcome
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.assertions[0].actual.as_deref()))
        .collect();
    assert_eq!(
        actual,
        vec![
            (
                "query",
                StepStatus::Failed,
                Some(r#""bad request to /q?k=*** body=""#)
            ),
            (
                "url query",
                StepStatus::Failed,
                Some(r#""bad request to /u?k=*** body=""#)
            ),
            (
                "url path",
                StepStatus::Failed,
                Some(r#""bad request to /p/*** body=""#)
            ),
            (
                "form",
                StepStatus::Failed,
                Some(r#""bad request to /f body=k=***""#)
            ),
            ("json", StepStatus::Failed, Some(r#""x""#)),
        ]
    );
    // Written the other way round, the echo is the expected side.
    assert_eq!(
        outcome.steps[4].assertions[0].expected.as_deref(),
        Some(r#""bad request to /j body={\"k\":\"***\"}""#)
    );
    assert_nothing_leaks(&outcome, &printed, &recorded);
}

/// What the API, live events and notifications pass through: the configuration's redaction.
#[test]
fn the_configuration_hides_every_encoding_of_the_secret() {
    let config = config("http://127.0.0.1:1");
    for form in [
        SECRET,
        "Sekret+%22pass%22%2F%C3%BC%26z%3D1%2Bk%3D%3D",
        "Sekret%20%22pass%22/%C3%BC&z=1+k==",
        "Sekret \\\"pass\\\"/ü&z=1+k==",
        "Sekret \\\\\\\"pass\\\\\\\"/ü&z=1+k==",
    ] {
        assert_eq!(config.redact(&format!("got {form}.")), "got ***.", "{form}");
    }
}
