//! Live events: the event bus as Server-Sent Events (`GET /api/events`: the event name is the
//! event's `type`, the data its JSON) and over a WebSocket (`GET /api/ws`: one JSON text
//! message per event). A client that falls behind loses the oldest events and is told how
//! many, with a `lagged` event `{"type": "lagged", "dropped": N}`. Streams end when the
//! server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use wfmon_engine::events::Event;

use crate::error::ApiError;
use crate::extract::Params;
use crate::redact::redact_value;
use crate::state::AppState;

/// How often an idle stream sends something, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One message for a client: its name and JSON data, secrets redacted.
struct Outgoing {
    name: String,
    data: String,
}

/// What a subscriber receives next: an event, a lag notice, or the end.
async fn next(
    state: &AppState,
    receiver: &mut tokio::sync::broadcast::Receiver<Event>,
) -> Option<Outgoing> {
    let stopped = state.streams_stopped();
    let received = tokio::select! {
        () = stopped => return None,
        received = receiver.recv() => received,
    };
    let mut value = match received {
        Ok(event) => serde_json::to_value(&event).unwrap_or(Value::Null),
        Err(RecvError::Lagged(dropped)) => json!({ "type": "lagged", "dropped": dropped }),
        Err(RecvError::Closed) => return None,
    };
    redact_value(&mut value, &|text| state.redact(text));
    let name = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message")
        .to_owned();
    Some(Outgoing {
        name,
        data: value.to_string(),
    })
}

/// `GET /api/events`
pub async fn sse(
    State(state): State<AppState>,
    params: Params,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    params.only(&[])?;
    let receiver = state.events().subscribe();
    let opening = futures_util::stream::once(async {
        Ok::<_, Infallible>(SseEvent::default().comment("connected"))
    });
    let events =
        futures_util::stream::unfold((state, receiver), |(state, mut receiver)| async move {
            let out = next(&state, &mut receiver).await?;
            let event = SseEvent::default().event(out.name).data(out.data);
            Some((Ok(event), (state, receiver)))
        });
    let stream = futures_util::StreamExt::chain(opening, events);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

/// `GET /api/ws`
pub async fn ws(
    State(state): State<AppState>,
    params: Params,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(error) = params.only(&[]) {
        return error.into_response();
    }
    match upgrade {
        Ok(upgrade) => {
            // Subscribe before answering, so no event published after the handshake is lost.
            let receiver = state.events().subscribe();
            upgrade.on_upgrade(move |socket| forward(state, receiver, socket))
        }
        Err(rejection) => ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            format!(
                "this endpoint speaks WebSocket only ({}); for plain HTTP use GET /api/events",
                rejection.body_text()
            ),
        )
        .into_response(),
    }
}

async fn forward(
    state: AppState,
    mut receiver: tokio::sync::broadcast::Receiver<Event>,
    mut socket: WebSocket,
) {
    let mut ping = tokio::time::interval(KEEP_ALIVE);
    ping.tick().await;
    loop {
        tokio::select! {
            out = next(&state, &mut receiver) => {
                let Some(out) = out else {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                };
                if socket.send(Message::Text(out.data.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pings are answered by the protocol layer.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
