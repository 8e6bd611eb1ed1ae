//! Live events over the real server: a run started through the API reaches Server-Sent
//! Events and WebSocket clients, a client that falls behind is told how many events it lost,
//! secrets are redacted, and a shutdown ends open streams.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use wfmon_engine::events::Event;
use wfmon_model::{ExecutionStatus, Timestamp};

on_both_backends!(a_triggered_run_reaches_event_stream_clients_at_once);

/// An open Server-Sent Events stream, read frame by frame.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One frame: its event name (None for a comment) and data.
#[derive(Debug)]
struct Frame {
    name: Option<String>,
    data: String,
    comment: Option<String>,
}

impl EventStream {
    async fn open(api: &TestApi) -> EventStream {
        let response = api.client.get(api.url("/api/events")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut stream = EventStream {
            response,
            buffer: String::new(),
        };
        let first = stream
            .next(Duration::from_secs(5))
            .await
            .expect("opening comment");
        assert_eq!(first.comment.as_deref(), Some("connected"));
        stream
    }

    /// The next frame, or None if none comes within `wait` or the stream ends.
    async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame {
                    name: None,
                    data: String::new(),
                    comment: None,
                };
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        frame.name = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        frame.data.push_str(v.trim_start());
                    } else if let Some(v) = line.strip_prefix(':') {
                        frame.comment = Some(v.trim().to_owned());
                    }
                }
                return Some(frame);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// The next event named `name` with `runId` equal to `run_id`.
    async fn wait_for(&mut self, name: &str, run_id: &str, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let frame = self.next(left).await?;
            if frame.name.as_deref() == Some(name) {
                let data: Value = serde_json::from_str(&frame.data).unwrap();
                if data["runId"] == run_id {
                    return Some(data);
                }
            }
        }
    }
}

async fn a_triggered_run_reaches_event_stream_clients_at_once(api: TestApi) {
    let mut sse = EventStream::open(&api).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(api.url("/api/ws").replace("http", "ws"))
        .await
        .unwrap();

    let started = Instant::now();
    let (status, body) = api
        .post(
            "/api/workflows/quick/run",
            Some("{\"environment\": \"production\"}"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let run_id = body["runs"][0]["runId"].as_str().unwrap().to_owned();

    let finished = sse
        .wait_for("run.finished", &run_id, Duration::from_secs(1))
        .await
        .unwrap_or_else(|| panic!("no run.finished within 1 s ({:?})", started.elapsed()));
    assert_eq!(finished["type"], "run.finished");
    assert_eq!(finished["status"], "PASSED");
    assert_eq!(finished["workflowName"], "quick");
    assert_eq!(finished["environment"], "production");

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a WebSocket message")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            let event: Value = serde_json::from_str(&text).unwrap();
            if event["runId"] == run_id.as_str() {
                seen.push(event["type"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(seen, ["run.started", "run.finished"]);
    ws.close(None).await.unwrap();
}

fn finished(n: u64, error: Option<String>) -> Event {
    Event::RunFinished {
        run_id: format!("run_{n}"),
        workflow_name: "quick".into(),
        environment: "production".into(),
        status: ExecutionStatus::Failed,
        duration_ms: n,
        error_message: error,
        completed_at: Timestamp::now(),
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_how_many_events_it_lost() {
    let api = TestApi::sqlite().await;
    let mut sse = EventStream::open(&api).await;
    // On this single-threaded runtime the stream cannot run while the loop publishes, so
    // everything beyond the bus's capacity (1024) is lost for it.
    for n in 0..1500 {
        api.state.events().publish(finished(n, None));
    }
    let frame = sse.next(Duration::from_secs(5)).await.expect("a frame");
    assert_eq!(frame.name.as_deref(), Some("lagged"), "{frame:?}");
    let data: Value = serde_json::from_str(&frame.data).unwrap();
    assert_eq!(
        data,
        serde_json::json!({"type": "lagged", "dropped": 1500 - 1024})
    );
    let frame = sse
        .next(Duration::from_secs(5))
        .await
        .expect("the oldest kept event");
    assert_eq!(frame.name.as_deref(), Some("run.finished"));
    let data: Value = serde_json::from_str(&frame.data).unwrap();
    assert_eq!(data["runId"], format!("run_{}", 1500 - 1024));
}

#[tokio::test]
async fn events_are_redacted_and_a_plain_request_to_the_socket_is_refused() {
    let api = TestApi::sqlite().await;
    let mut sse = EventStream::open(&api).await;
    api.state
        .events()
        .publish(finished(1, Some(format!("login with {SECRET} refused"))));
    let frame = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.name.as_deref(), Some("run.finished"));
    assert!(!frame.data.contains(SECRET), "{}", frame.data);
    assert!(
        frame.data.contains("login with *** refused"),
        "{}",
        frame.data
    );

    let (status, body) = api.get("/api/ws").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (426, Some("websocket_required")),
        "{body}"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_returns() {
    let mut api = TestApi::sqlite().await;
    let mut sse = EventStream::open(&api).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(api.url("/api/ws").replace("http", "ws"))
        .await
        .unwrap();
    let took = api.shutdown().await;
    assert!(
        took < Duration::from_secs(3),
        "serve returned after {took:?}"
    );
    assert!(
        sse.next(Duration::from_secs(2)).await.is_none(),
        "the stream ended"
    );
    let last = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .unwrap();
    assert!(
        matches!(
            last,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None
        ),
        "{last:?}"
    );
}
