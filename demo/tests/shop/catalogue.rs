//! Farms and products: who may create and delete them, listing, search, and the refusals.

use serde_json::json;
use wfmon_demo::{DEMO_CUSTOMER, DEMO_FARM, DEMO_FARMER, DEMO_PRODUCTS, STAGING_FARMER};

use crate::api::{Api, assert_refused, start_without_faults};

#[tokio::test]
async fn the_seeded_farm_and_products_are_there_from_the_start() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let farms = api.get("/api/farms").await;
    assert_eq!(farms.status, 200);
    assert_eq!(farms.body["total"], 1);
    let farm = &farms.body["items"][0];
    assert_eq!(farm["name"], DEMO_FARM);
    assert_eq!(farm["productCount"], DEMO_PRODUCTS.len());

    let id = farm["id"].as_str().unwrap();
    let detail = api.get(&format!("/api/farms/{id}")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(
        detail.body["products"].as_array().unwrap().len(),
        DEMO_PRODUCTS.len()
    );

    let products = api.get("/api/products").await;
    assert_eq!(products.status, 200);
    assert_eq!(products.body["total"], DEMO_PRODUCTS.len());
    let names: Vec<&str> = products.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let seeded: Vec<&str> = DEMO_PRODUCTS.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names, seeded);
    let first = &products.body["items"][0];
    assert_eq!(first["price"], json!(DEMO_PRODUCTS[0].1));
    assert_eq!(first["farmName"], DEMO_FARM);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn listing_searches_limits_and_refuses_bad_limits() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let limited = api.get("/api/products?limit=2").await;
    assert_eq!(limited.status, 200);
    assert_eq!(limited.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        limited.body["total"],
        DEMO_PRODUCTS.len(),
        "total counts every match"
    );

    let honey = api.get("/api/products?search=HONEY").await;
    assert_eq!(honey.body["total"], 1);
    assert!(
        honey.body["items"][0]["name"]
            .as_str()
            .unwrap()
            .contains("honey")
    );

    let none = api.get("/api/products?search=caviar").await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body, json!({"items": [], "total": 0}));

    for bad in ["0", "101", "-1", "many"] {
        assert_refused(&api.get(&format!("/api/products?limit={bad}")).await, 400);
    }

    let id = limited.body["items"][0]["id"].as_str().unwrap();
    let one = api.get(&format!("/api/products/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, limited.body["items"][0]);
    assert_refused(&api.get("/api/products/product-9999").await, 404);
    assert_refused(&api.get("/api/products/xyz").await, 404);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_farmers_create_farms_and_only_owners_change_them() {
    let shop = start_without_faults().await;
    let anonymous = Api::new(&shop);
    let farmer = Api::signed_in(&shop, &DEMO_FARMER).await;
    let other_farmer = Api::signed_in(&shop, &STAGING_FARMER).await;
    let customer = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    let new_farm = json!({"name": "Hilltop", "location": "North Ridge"});

    assert_refused(&anonymous.post("/api/farms", new_farm.clone()).await, 401);
    assert_refused(&customer.post("/api/farms", new_farm.clone()).await, 403);
    assert_refused(
        &farmer.post("/api/farms", json!({"name": "No place"})).await,
        400,
    );
    assert_refused(
        &farmer
            .post("/api/farms", json!({"name": "", "location": "X"}))
            .await,
        400,
    );

    let created = farmer.post("/api/farms", new_farm).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let farm = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["name"], "Hilltop");
    assert_eq!(created.body["location"], "North Ridge");
    let me = farmer.get("/api/auth/me").await;
    assert_eq!(created.body["ownerId"], me.body["user"]["id"]);
    let read = anonymous.get(&format!("/api/farms/{farm}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["products"], json!([]));
    assert_eq!(anonymous.get("/api/farms").await.body["total"], 2);

    // Products: the owner only, with a name, a positive price and a stock of 0 or more.
    let path = format!("/api/farms/{farm}/products");
    let carrots = json!({"name": "Carrots", "price": 1.99, "stock": 50});
    assert_refused(&anonymous.post(&path, carrots.clone()).await, 401);
    assert_refused(&other_farmer.post(&path, carrots.clone()).await, 403);
    assert_refused(&customer.post(&path, carrots.clone()).await, 403);
    assert_refused(
        &farmer
            .post("/api/farms/farm-9999/products", carrots.clone())
            .await,
        404,
    );
    for bad in [
        json!({"price": 1.0, "stock": 1}),
        json!({"name": "Free", "price": 0, "stock": 1}),
        json!({"name": "Negative", "price": -2.5, "stock": 1}),
        json!({"name": "No price", "stock": 1}),
        json!({"name": "Owed", "price": 1.0, "stock": -1}),
        json!({"name": "Text", "price": "1.00", "stock": 1}),
    ] {
        assert_refused(&farmer.post(&path, bad).await, 400);
    }
    let product = farmer.post(&path, carrots).await;
    assert_eq!(product.status, 201, "{}", product.text);
    assert_eq!(product.body["price"], json!(1.99));
    assert_eq!(product.body["stock"], 50);
    assert_eq!(product.body["farmId"], farm.as_str());
    let product = product.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        anonymous.get("/api/products?search=carrot").await.body["total"],
        1
    );

    // Deleting a product.
    let product_path = format!("/api/products/{product}");
    assert_refused(&anonymous.delete(&product_path).await, 401);
    assert_refused(&other_farmer.delete(&product_path).await, 403);
    assert_eq!(farmer.delete(&product_path).await.status, 204);
    assert_refused(&anonymous.get(&product_path).await, 404);
    assert_refused(&farmer.delete(&product_path).await, 404);

    // Deleting the farm takes its products with it.
    let again = farmer
        .post(&path, json!({"name": "Beets", "price": 2, "stock": 5}))
        .await;
    let beets = again.body["id"].as_str().unwrap().to_owned();
    let farm_path = format!("/api/farms/{farm}");
    assert_refused(&anonymous.delete(&farm_path).await, 401);
    assert_refused(&other_farmer.delete(&farm_path).await, 403);
    assert_eq!(farmer.delete(&farm_path).await.status, 204);
    assert_refused(&anonymous.get(&farm_path).await, 404);
    assert_refused(&anonymous.get(&format!("/api/products/{beets}")).await, 404);
    assert_refused(&farmer.delete(&farm_path).await, 404);
    assert_eq!(anonymous.get("/api/farms").await.body["total"], 1);
    assert_eq!(
        anonymous.get("/api/products").await.body["total"],
        DEMO_PRODUCTS.len()
    );
    shop.shutdown().await.unwrap();
}
