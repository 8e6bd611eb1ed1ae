//! Health, the home page, unknown routes, the deliberate faults, and shutdown.

use std::time::{Duration, Instant};

use serde_json::json;
use wfmon_demo::{DEMO_ACCOUNTS, DEMO_CUSTOMER, DemoOptions};

use crate::api::{Api, assert_refused, start, start_without_faults};

#[tokio::test]
async fn health_reports_the_database_check() {
    let shop = start_without_faults().await;
    let health = Api::new(&shop).get("/api/health").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let database = &health.body["checks"]["database"];
    assert_eq!(database["status"], "ok");
    assert!(database["latencyMs"].is_u64(), "{}", health.text);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_home_page_lists_endpoints_and_accounts() {
    let shop = start_without_faults().await;
    let response = reqwest::get(format!("{}/", shop.base_url())).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    assert!(page.contains("/api/orders") && page.contains("/api/health"));
    for account in DEMO_ACCOUNTS {
        assert!(page.contains(account.email) && page.contains(account.password));
    }
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unknown_endpoint_is_a_json_404() {
    let shop = start_without_faults().await;
    assert_refused(&Api::new(&shop).get("/api/nothing-here").await, 404);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_deliberate_faults_happen_when_asked_for() {
    let delay = Duration::from_millis(300);
    let shop = start(DemoOptions {
        seed: 1,
        slow_listing_rate: 1.0,
        slow_listing_delay: delay,
        order_failure_rate: 1.0,
        health_failure_rate: 1.0,
        ..DemoOptions::default()
    })
    .await;
    let customer = Api::signed_in(&shop, &DEMO_CUSTOMER).await;

    let started = Instant::now();
    let listing = customer.get("/api/products?search=eggs").await;
    assert!(started.elapsed() >= delay);
    assert_eq!(listing.status, 200, "slow, but right");
    let eggs = &listing.body["items"][0];
    let stock = eggs["stock"].clone();

    customer
        .post(
            "/api/cart/items",
            json!({"productId": eggs["id"], "quantity": 1}),
        )
        .await;
    let order = customer.post_empty("/api/orders").await;
    assert_refused(&order, 500);
    assert!(order.body["error"].as_str().unwrap().contains("deliberate"));
    let path = format!("/api/products/{}", eggs["id"].as_str().unwrap());
    assert_eq!(
        customer.get(&path).await.body["stock"],
        stock,
        "a failed order takes nothing"
    );
    assert_eq!(
        customer.get("/api/cart").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "and keeps the cart"
    );

    let health = customer.get("/api/health").await;
    assert_eq!(health.status, 503);
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["checks"]["database"]["status"], "degraded");
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let options = DemoOptions {
        seed: 99,
        health_failure_rate: 0.5,
        ..DemoOptions::default()
    };
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let shop = start(options.clone()).await;
        let api = Api::new(&shop);
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(api.get("/api/health").await.status);
        }
        sequences.push(statuses);
        shop.shutdown().await.unwrap();
    }
    assert_eq!(sequences[0], sequences[1]);
    assert!(sequences[0].contains(&200) && sequences[0].contains(&503));
}

#[tokio::test]
async fn shutdown_stops_the_shop() {
    let shop = start_without_faults().await;
    let base = shop.base_url();
    assert_eq!(Api::new(&shop).get("/api/health").await.status, 200);
    shop.shutdown().await.unwrap();
    let after = reqwest::Client::new()
        .get(format!("{base}/api/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "the shop still answers");
}
