//! Sign-up, sign-in, sessions and account deletion, with the refusals.

use serde_json::json;
use wfmon_demo::{DEMO_CUSTOMER, DEMO_FARMER};

use crate::api::{Api, assert_refused, start_without_faults};

#[tokio::test]
async fn registration_creates_a_user_and_never_returns_the_password() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let created = api
        .post(
            "/api/auth/register",
            json!({"email": "New@Example.com", "password": "secret-123", "name": " Nia New "}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user = &created.body["user"];
    assert_eq!(user["email"], "new@example.com");
    assert_eq!(user["name"], "Nia New");
    assert_eq!(user["role"], "customer", "the default role");
    assert!(user["id"].as_str().unwrap().starts_with("user-"));
    assert!(!created.text.contains("secret-123"));
    assert!(user.get("password").is_none());

    let farmer = api
        .post(
            "/api/auth/register",
            json!({"email": "grower@example.com", "password": "secret-123", "name": "G", "role": "farmer"}),
        )
        .await;
    assert_eq!(farmer.status, 201);
    assert_eq!(farmer.body["user"]["role"], "farmer");
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn registration_refuses_duplicates_and_bad_input() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let register = |body| api.post("/api/auth/register", body);
    let duplicate = register(json!({
        "email": DEMO_FARMER.email.to_uppercase(), "password": "whatever-1", "name": "Copy"
    }))
    .await;
    assert_refused(&duplicate, 409);

    let bad = [
        json!({"password": "secret-123", "name": "No email"}),
        json!({"email": "x@example.com", "name": "No password"}),
        json!({"email": "x@example.com", "password": "secret-123"}),
        json!({"email": "x@example.com", "password": "secret-123", "name": "   "}),
        json!({"email": "not-an-email", "password": "secret-123", "name": "N"}),
        json!({"email": "x@localhost", "password": "secret-123", "name": "N"}),
        json!({"email": "x@example.com", "password": "short", "name": "N"}),
        json!({"email": "x@example.com", "password": "secret-123", "name": "N", "role": "admin"}),
        json!({"email": 42, "password": "secret-123", "name": "N"}),
        json!([1, 2]),
    ];
    for body in bad {
        assert_refused(&register(body.clone()).await, 400);
    }
    assert_refused(
        &api.post_raw("/api/auth/register", "application/json", "{not json")
            .await,
        400,
    );
    assert_refused(
        &api.post_raw("/api/auth/register", "text/plain", "hello")
            .await,
        400,
    );
    // Nothing was created by the refused requests.
    assert_refused(&api.login("x@example.com", "secret-123").await, 401);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn login_sets_an_http_only_session_cookie_that_me_accepts() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    assert_refused(&api.get("/api/auth/me").await, 401);

    let login = api.login(DEMO_FARMER.email, DEMO_FARMER.password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["user"]["email"], DEMO_FARMER.email);
    assert_eq!(login.body["user"]["role"], "farmer");
    assert!(login.body["user"].get("password").is_none());
    let cookie = login
        .cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let token = login.body["token"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("session={token};")));

    let me = api.get("/api/auth/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"], login.body["user"]);

    // The same token works as a bearer header.
    let bearer = Api::with_bearer(&shop, token);
    assert_eq!(
        bearer.get("/api/auth/me").await.body["user"],
        me.body["user"]
    );
    assert_refused(
        &Api::with_bearer(&shop, "not-a-token")
            .get("/api/auth/me")
            .await,
        401,
    );

    let out = api.post_empty("/api/auth/logout").await;
    assert_eq!(out.status, 204);
    assert!(out.cookies.iter().any(|c| c.contains("Max-Age=0")));
    assert_refused(&api.get("/api/auth/me").await, 401);
    assert_refused(&bearer.get("/api/auth/me").await, 401);
    // Signing out twice is fine.
    assert_eq!(api.post_empty("/api/auth/logout").await.status, 204);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn login_refuses_wrong_credentials_and_incomplete_input() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    assert_refused(&api.login(DEMO_FARMER.email, "wrong-password").await, 401);
    assert_refused(&api.login("nobody@example.com", "demo-farmer").await, 401);
    // Another account's password does not open this one.
    assert_refused(
        &api.login(DEMO_FARMER.email, DEMO_CUSTOMER.password).await,
        401,
    );
    assert_refused(
        &api.post("/api/auth/login", json!({"email": DEMO_FARMER.email}))
            .await,
        400,
    );
    assert_refused(&api.get("/api/auth/me").await, 401);
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn users_delete_their_own_account_only() {
    let shop = start_without_faults().await;
    let api = Api::new(&shop);
    let created = api
        .post(
            "/api/auth/register",
            json!({"email": "leaving@example.com", "password": "secret-123", "name": "L"}),
        )
        .await;
    let id = created.body["user"]["id"].as_str().unwrap().to_owned();
    assert_refused(&api.delete(&format!("/api/users/{id}")).await, 401);

    let other = Api::signed_in(&shop, &DEMO_CUSTOMER).await;
    assert_refused(&other.delete(&format!("/api/users/{id}")).await, 403);

    assert_eq!(
        api.login("leaving@example.com", "secret-123").await.status,
        200
    );
    assert_eq!(api.delete(&format!("/api/users/{id}")).await.status, 204);
    assert_refused(&api.get("/api/auth/me").await, 401);
    assert_refused(&api.login("leaving@example.com", "secret-123").await, 401);
    // The email is free again.
    let again = api
        .post(
            "/api/auth/register",
            json!({"email": "leaving@example.com", "password": "secret-123", "name": "L"}),
        )
        .await;
    assert_eq!(again.status, 201);
    shop.shutdown().await.unwrap();
}
