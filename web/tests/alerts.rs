//! Alert actions over the API on both backends: acknowledge, resolve and silence record who
//! and when, change only an alert in a state that allows it (409 otherwise), answer 404 for
//! an unknown id and 422 naming the field for a bad body (changing nothing), and announce
//! `alert.changed` on the live events.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wfmon_engine::events::Event;
use wfmon_model::{Alert, AlertStatus, Timestamp};

on_both_backends!(
    acknowledge_and_resolve_record_who_and_when,
    silence_takes_a_duration_or_a_time_and_a_reason,
    wrong_states_unknown_ids_and_bad_bodies_change_nothing,
    changes_are_announced_as_live_events,
);

async fn stored(api: &TestApi, id: &str) -> Alert {
    api.store.get::<Alert>(id).await.unwrap().expect("alert")
}

async fn acknowledge_and_resolve_record_who_and_when(api: TestApi) {
    let a = alert("quick", AlertStatus::Active);
    api.store.insert(std::slice::from_ref(&a)).await.unwrap();

    let (status, body) = api.get(&format!("/api/alerts/{}", a.alert_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alertId"], a.alert_id.as_str());
    assert_eq!(body["status"], "ACTIVE");

    let before = Timestamp::now();
    let (status, body) = api
        .post(
            &format!("/api/alerts/{}/acknowledge", a.alert_id),
            Some(r#"{"by": "alice"}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ACKNOWLEDGED");
    assert_eq!(body["acknowledgedBy"], "alice");
    let row = stored(&api, &a.alert_id).await;
    assert_eq!(row.status, AlertStatus::Acknowledged);
    assert_eq!(row.acknowledged_by.as_deref(), Some("alice"));
    assert!(row.acknowledged_at.unwrap() >= before);

    // Without a body, the actor is "api".
    let (status, body) = api
        .post(&format!("/api/alerts/{}/resolve", a.alert_id), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "RESOLVED");
    assert_eq!(body["resolvedBy"], "api");
    let row = stored(&api, &a.alert_id).await;
    assert_eq!(row.status, AlertStatus::Resolved);
    assert!(row.resolved_at.unwrap() >= before);
    // The acknowledgement stays on record.
    assert_eq!(row.acknowledged_by.as_deref(), Some("alice"));
}

async fn silence_takes_a_duration_or_a_time_and_a_reason(api: TestApi) {
    let a = alert("quick", AlertStatus::Active);
    let b = alert("broken", AlertStatus::Escalated);
    api.store.insert(&[a.clone(), b.clone()]).await.unwrap();

    let before = Timestamp::now();
    let (status, body) = api
        .post(
            &format!("/api/alerts/{}/silence", a.alert_id),
            Some(r#"{"for": "2h", "reason": "deploy", "by": "carol"}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "SILENCED");
    let row = stored(&api, &a.alert_id).await;
    assert_eq!(row.status, AlertStatus::Silenced);
    let meta = row.metadata.unwrap().0;
    assert_eq!(meta["silencedBy"], "carol");
    assert_eq!(meta["silenceReason"], "deploy");
    let until = Timestamp::parse(meta["silencedUntil"].as_str().unwrap()).unwrap();
    let expected = before.plus(chrono::TimeDelta::hours(2));
    assert!(
        until >= expected && until <= expected.plus(chrono::TimeDelta::minutes(1)),
        "{until} vs {expected}"
    );

    let at = Timestamp::now().plus(chrono::TimeDelta::days(1));
    let (status, body) = api
        .post(
            &format!("/api/alerts/{}/silence", b.alert_id),
            Some(&format!(r#"{{"until": "{at}", "reason": "weekend"}}"#)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let row = stored(&api, &b.alert_id).await;
    let meta = row.metadata.unwrap().0;
    assert_eq!(meta["silencedUntil"], at.to_string());
    assert_eq!(meta["silencedBy"], "api");

    // A silenced alert can still be acknowledged.
    let (status, body) = api
        .post(&format!("/api/alerts/{}/acknowledge", b.alert_id), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ACKNOWLEDGED");
}

async fn wrong_states_unknown_ids_and_bad_bodies_change_nothing(api: TestApi) {
    let open = alert("quick", AlertStatus::Active);
    let done = alert("broken", AlertStatus::Resolved);
    let acked = alert("secretive", AlertStatus::Acknowledged);
    api.store
        .insert(&[open.clone(), done.clone(), acked.clone()])
        .await
        .unwrap();

    // Unknown ids: 404 on every operation.
    for (method, path) in [
        ("GET", "/api/alerts/alert_nope".to_owned()),
        ("POST", "/api/alerts/alert_nope/acknowledge".to_owned()),
        ("POST", "/api/alerts/alert_nope/resolve".to_owned()),
        ("POST", "/api/alerts/alert_nope/silence".to_owned()),
    ] {
        let (status, body) = if method == "GET" {
            api.get(&path).await
        } else if path.ends_with("silence") {
            api.post(&path, Some(r#"{"for": "1h", "reason": "x"}"#))
                .await
        } else {
            api.post(&path, None).await
        };
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert_eq!(body["error"], "not_found");
        assert!(body["message"].as_str().unwrap().contains("alert_nope"));
    }

    // Wrong states: 409 naming the status; nothing changes.
    let done_before = stored(&api, &done.alert_id).await;
    let conflicts = [
        (
            format!("/api/alerts/{}/acknowledge", done.alert_id),
            None,
            "RESOLVED",
        ),
        (
            format!("/api/alerts/{}/resolve", done.alert_id),
            None,
            "RESOLVED",
        ),
        (
            format!("/api/alerts/{}/silence", done.alert_id),
            Some(r#"{"for": "1h", "reason": "x"}"#),
            "RESOLVED",
        ),
        (
            format!("/api/alerts/{}/acknowledge", acked.alert_id),
            None,
            "ACKNOWLEDGED",
        ),
    ];
    for (path, body, status_now) in conflicts {
        let (status, answer) = api.post(&path, body).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_eq!(answer["error"], "wrong_state");
        assert_eq!(answer["details"]["status"], status_now);
        assert!(
            answer["message"].as_str().unwrap().contains(status_now),
            "{answer}"
        );
    }
    assert_eq!(stored(&api, &done.alert_id).await, done_before);
    assert_eq!(
        stored(&api, &acked.alert_id).await.status,
        AlertStatus::Acknowledged
    );

    // Bad bodies: 422 naming the field (400 for what is not JSON); the alert stays ACTIVE.
    let silence = format!("/api/alerts/{}/silence", open.alert_id);
    let past = Timestamp::now().minus(chrono::TimeDelta::hours(1));
    let cases: Vec<(String, String, u16, &str)> = vec![
        (silence.clone(), r#"{"reason": "x"}"#.into(), 422, "for"),
        (silence.clone(), r#"{"for": "2h"}"#.into(), 422, "reason"),
        (
            silence.clone(),
            r#"{"for": "2h", "reason": "  "}"#.into(),
            422,
            "reason",
        ),
        (
            silence.clone(),
            r#"{"for": "soon", "reason": "x"}"#.into(),
            422,
            "for",
        ),
        (
            silence.clone(),
            r#"{"for": "0s", "reason": "x"}"#.into(),
            422,
            "for",
        ),
        (
            silence.clone(),
            r#"{"for": "400d", "reason": "x"}"#.into(),
            422,
            "for",
        ),
        (
            silence.clone(),
            r#"{"for": 2, "reason": "x"}"#.into(),
            422,
            "for",
        ),
        (
            silence.clone(),
            format!(r#"{{"until": "{past}", "reason": "x"}}"#),
            422,
            "until",
        ),
        (
            silence.clone(),
            r#"{"until": "tomorrow", "reason": "x"}"#.into(),
            422,
            "until",
        ),
        (
            silence.clone(),
            r#"{"for": "1h", "until": "2099-01-01T00:00:00Z", "reason": "x"}"#.into(),
            422,
            "for",
        ),
        (
            silence.clone(),
            r#"{"for": "1h", "reason": "x", "why": 1}"#.into(),
            422,
            "",
        ),
        (
            format!("/api/alerts/{}/acknowledge", open.alert_id),
            r#"{"by": 7}"#.into(),
            422,
            "by",
        ),
        (
            format!("/api/alerts/{}/acknowledge", open.alert_id),
            format!(r#"{{"by": "{}"}}"#, "x".repeat(101)),
            422,
            "by",
        ),
        (
            format!("/api/alerts/{}/resolve", open.alert_id),
            r#"{"by": "a\u0007b"}"#.into(),
            422,
            "by",
        ),
        (
            format!("/api/alerts/{}/resolve", open.alert_id),
            "{".into(),
            400,
            "",
        ),
    ];
    for (path, body, code, field) in cases {
        let (status, answer) = api.post(&path, Some(&body)).await;
        assert_eq!(status, code, "{path} {body}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["details"]["field"], field, "{body}: {answer}");
        }
        assert!(answer["message"].is_string());
    }
    let row = stored(&api, &open.alert_id).await;
    assert_eq!(
        row.status,
        AlertStatus::Active,
        "bad bodies changed nothing"
    );
    assert!(row.acknowledged_by.is_none() && row.resolved_by.is_none());
    assert!(
        row.metadata
            .as_ref()
            .map(|m| m.0.get("silencedBy").is_none())
            .unwrap_or(true)
    );

    // A query parameter the operation does not take is a 400 naming it.
    let (status, answer) = api
        .post(
            &format!("/api/alerts/{}/resolve?force=1", open.alert_id),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["details"]["field"], "force");
}

async fn changes_are_announced_as_live_events(api: TestApi) {
    let a = alert("quick", AlertStatus::Active);
    api.store.insert(std::slice::from_ref(&a)).await.unwrap();
    let mut events = api.state.events().subscribe();

    let (status, _) = api
        .post(&format!("/api/alerts/{}/acknowledge", a.alert_id), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .post(&format!("/api/alerts/{}/resolve", a.alert_id), None)
        .await;
    assert_eq!(status, 200);
    // A refused change announces nothing.
    let (status, _) = api
        .post(&format!("/api/alerts/{}/resolve", a.alert_id), None)
        .await;
    assert_eq!(status, 409);

    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(300), events.recv()).await
    {
        if let Event::AlertChanged { change, alert } = event {
            assert_eq!(alert.alert_id, a.alert_id);
            seen.push((change, alert.status));
        }
    }
    assert_eq!(
        seen,
        vec![
            ("acknowledged", AlertStatus::Acknowledged),
            ("resolved", AlertStatus::Resolved)
        ]
    );
    // Over SSE the event carries its type as the event name.
    let json: Value = serde_json::to_value(Event::AlertChanged {
        change: "resolved",
        alert: Box::new(a),
    })
    .unwrap();
    assert_eq!(json["type"], "alert.changed");
    assert_eq!(json["alert"]["workflowName"], "quick");
}
