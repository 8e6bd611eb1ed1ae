//! The shop's notification inbox, the webhook receiver `wfmon demo` notifies.

use serde_json::json;

use crate::api::{Api, start_without_faults};

#[tokio::test]
async fn the_inbox_keeps_what_it_receives_newest_first() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let empty = api.get("/hooks/wfmon").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["received"], json!([]));
    for n in 1..=2 {
        let posted = api
            .post("/hooks/wfmon", json!({"type": "ALERT", "n": n}))
            .await;
        assert_eq!(posted.status, 204, "{}", posted.text);
    }
    let listed = api.get("/hooks/wfmon").await;
    let received = listed.body["received"].as_array().unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["notification"]["n"], 2);
    assert!(received[0]["receivedAt"].as_str().unwrap().ends_with('Z'));
    let bad = api
        .post_raw("/hooks/wfmon", "application/json", "not json")
        .await;
    assert_eq!(bad.status, 400);
}
