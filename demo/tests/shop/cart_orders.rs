//! The cart and checkout: totals, stock, sessions, and the refusals.

use serde_json::json;
use wfmon_demo::{DEMO_CUSTOMER, DEMO_FARMER, STAGING_CUSTOMER};

use crate::api::{Api, assert_refused, start_without_faults};

/// The id of the first product whose name contains `search`.
async fn product_id(api: &Api, search: &str) -> String {
    let found = api
        .get(&format!("/api/products?search={search}&limit=1"))
        .await;
    found.body["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_cart_and_orders_need_a_session() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let eggs = product_id(&api, "eggs").await;
    assert_refused(&api.get("/api/cart").await, 401);
    assert_refused(
        &api.post("/api/cart/items", json!({"productId": eggs, "quantity": 1}))
            .await,
        401,
    );
    assert_refused(&api.post_empty("/api/orders").await, 401);
    assert_refused(&api.get("/api/orders/order-1").await, 401);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn checkout_turns_the_cart_into_an_order_and_takes_the_stock() {
    let shop = start_without_faults().await;
    let customer = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    let eggs = product_id(&customer, "eggs").await;
    let stock_before = customer.get(&format!("/api/products/{eggs}")).await.body["stock"]
        .as_u64()
        .unwrap();

    let empty = customer.get("/api/cart").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body, json!({"items": [], "total": 0.0}));
    assert_refused(&customer.post_empty("/api/orders").await, 400);

    for bad in [
        json!({"quantity": 1}),
        json!({"productId": eggs, "quantity": 0}),
        json!({"productId": eggs, "quantity": -3}),
        json!({"productId": eggs}),
        json!({"productId": eggs, "quantity": "two"}),
    ] {
        assert_refused(&customer.post("/api/cart/items", bad).await, 400);
    }
    assert_refused(
        &customer
            .post(
                "/api/cart/items",
                json!({"productId": "product-9999", "quantity": 1}),
            )
            .await,
        404,
    );

    let added = customer
        .post("/api/cart/items", json!({"productId": eggs, "quantity": 2}))
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["items"][0]["quantity"], 2);
    assert_eq!(added.body["total"], json!(8.4));
    let more = customer
        .post("/api/cart/items", json!({"productId": eggs, "quantity": 1}))
        .await;
    assert_eq!(more.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(more.body["items"][0]["quantity"], 3);
    assert_eq!(customer.get("/api/cart").await.body, more.body);

    let order = customer.post_empty("/api/orders").await;
    assert_eq!(order.status, 201, "{}", order.text);
    assert_eq!(order.body["status"], "placed");
    assert_eq!(order.body["total"], json!(12.6));
    assert_eq!(order.body["items"][0]["productId"], eggs.as_str());
    assert_eq!(order.body["items"][0]["unitPrice"], json!(4.2));
    assert_eq!(order.body["items"][0]["lineTotal"], json!(12.6));
    let me = customer.get("/api/auth/me").await;
    assert_eq!(order.body["userId"], me.body["user"]["id"]);

    let stock_after = customer.get(&format!("/api/products/{eggs}")).await.body["stock"]
        .as_u64()
        .unwrap();
    assert_eq!(stock_after, stock_before - 3);
    assert_eq!(customer.get("/api/cart").await.body["items"], json!([]));

    let id = order.body["id"].as_str().unwrap();
    let read = customer.get(&format!("/api/orders/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, order.body);
    // Another customer's order is not there for anyone else.
    let other = Api::signed_in(&shop, &STAGING_CUSTOMER).await;
    assert_refused(&other.get(&format!("/api/orders/{id}")).await, 404);
    assert_refused(&customer.get("/api/orders/order-9999").await, 404);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_order_beyond_the_stock_is_refused_and_changes_nothing() {
    let shop = start_without_faults().await;
    let farmer = Api::signed_in(&shop, &DEMO_FARMER).await;
    let farm = farmer.get("/api/farms").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rare = farmer
        .post(
            &format!("/api/farms/{farm}/products"),
            json!({"name": "Rare truffle", "price": 99.0, "stock": 1}),
        )
        .await;
    let rare = rare.body["id"].as_str().unwrap().to_owned();

    let customer = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    let cart = customer
        .post("/api/cart/items", json!({"productId": rare, "quantity": 2}))
        .await;
    assert_eq!(cart.status, 201);
    assert_refused(&customer.post_empty("/api/orders").await, 409);
    assert_eq!(
        customer.get(&format!("/api/products/{rare}")).await.body["stock"],
        1
    );
    assert_eq!(
        customer.get("/api/cart").await.body,
        cart.body,
        "the cart is kept"
    );

    // Deleting the product takes it out of the cart.
    assert_eq!(
        farmer.delete(&format!("/api/products/{rare}")).await.status,
        204
    );
    assert_eq!(customer.get("/api/cart").await.body["items"], json!([]));
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_session_has_its_own_cart() {
    let shop = start_without_faults().await;
    let first = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    let second = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    let eggs = product_id(&first, "eggs").await;
    first
        .post("/api/cart/items", json!({"productId": eggs, "quantity": 1}))
        .await;
    assert_eq!(
        first.get("/api/cart").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(second.get("/api/cart").await.body["items"], json!([]));
    shop.shutdown().await.unwrap();
}
