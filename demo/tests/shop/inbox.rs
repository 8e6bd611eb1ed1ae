//! The shop's notification inbox, the webhook receiver `wfmon demo` notifies: it takes only
//! bodies signed with its secret, as wfmon's webhook channel signs them.

use serde_json::json;
use wfmon_demo::{EXAMPLE_CONFIG, INBOX_SECRET};
use wfmon_engine::config::Config;
use wfmon_engine::notify::ChannelConfig;
use wfmon_engine::notify::webhook::{SIGNATURE_HEADER, signature};

use crate::api::{Api, start_without_faults};

/// Posts `body` with the given signature header value, if any.
async fn post(base: &str, body: &str, signed: Option<String>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/hooks/wfmon"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = signed {
        request = request.header(SIGNATURE_HEADER, s);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_inbox_keeps_what_is_signed_newest_first() {
    let shop = start_without_faults().await;
    let base = shop.base_url();
    let api = Api::new(&shop);
    let empty = api.get("/hooks/wfmon").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["received"], json!([]));
    for n in 1..=2 {
        let body = json!({"type": "ALERT", "n": n}).to_string();
        let (status, text) =
            post(&base, &body, Some(signature(INBOX_SECRET, body.as_bytes()))).await;
        assert_eq!(status, 204, "{text}");
    }
    let listed = api.get("/hooks/wfmon").await;
    let received = listed.body["received"].as_array().unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["notification"]["n"], 2);
    assert_eq!(received[0]["signatureVerified"], true);
    assert!(received[0]["receivedAt"].as_str().unwrap().ends_with('Z'));
    let (status, _) = post(
        &base,
        "not json",
        Some(signature(INBOX_SECRET, b"not json")),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unsigned_altered_or_wrongly_keyed_bodies_are_refused_and_not_kept() {
    let shop = start_without_faults().await;
    let base = shop.base_url();
    let body = json!({"type": "ALERT"}).to_string();
    let cases = [
        None,
        Some(signature(INBOX_SECRET, b"{\"type\":\"RECOVERY\"}")),
        Some(signature("another-secret-entirely", body.as_bytes())),
        Some("sha256=zz".to_owned()),
        Some(signature(INBOX_SECRET, body.as_bytes()).replace("sha256=", "md5=")),
    ];
    for signed in cases {
        let (status, text) = post(&base, &body, signed.clone()).await;
        assert_eq!(status, 401, "{signed:?}: {text}");
        assert!(text.contains("X-Wfmon-Signature"), "{text}");
    }
    let listed = Api::new(&shop).get("/hooks/wfmon").await;
    assert_eq!(listed.body["received"], json!([]));
}

#[test]
fn the_example_configuration_signs_with_the_inbox_secret() {
    let config = Config::parse(EXAMPLE_CONFIG, std::path::Path::new("wfmon.yaml")).unwrap();
    match &config.notifications.channels["inbox"] {
        ChannelConfig::Webhook(hook) => assert_eq!(hook.secret.as_deref(), Some(INBOX_SECRET)),
        other => panic!("the inbox channel is not a webhook: {other:?}"),
    }
}
