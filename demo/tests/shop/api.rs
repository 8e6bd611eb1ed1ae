//! A small client for the tests: one cookie jar per client, like one browser per user.

use std::net::SocketAddr;

use reqwest::header::SET_COOKIE;
use reqwest::{Client, Method};
use serde_json::{Value, json};
use wfmon_demo::{DemoAccount, DemoOptions, RunningShop};

/// Starts a seeded shop on a free port.
pub async fn start(options: DemoOptions) -> RunningShop {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    wfmon_demo::start(addr, options).await.unwrap()
}

/// Starts a seeded shop without faults.
pub async fn start_without_faults() -> RunningShop {
    start(DemoOptions::without_faults()).await
}

/// An answer: status, `Set-Cookie` headers, body (`null` when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub cookies: Vec<String>,
    pub body: Value,
    pub text: String,
}

/// A client of one shop with its own cookie jar.
pub struct Api {
    base: String,
    client: Client,
    bearer: Option<String>,
}

impl Api {
    pub fn new(shop: &RunningShop) -> Api {
        Api {
            base: shop.base_url(),
            client: Client::builder().cookie_store(true).build().unwrap(),
            bearer: None,
        }
    }

    /// A client signed in as `account`.
    pub async fn signed_in(shop: &RunningShop, account: &DemoAccount) -> Api {
        let api = Api::new(shop);
        let login = api.login(account.email, account.password).await;
        assert_eq!(login.status, 200, "{}", login.text);
        api
    }

    /// A client that sends `token` as a bearer header and keeps no cookies.
    pub fn with_bearer(shop: &RunningShop, token: &str) -> Api {
        Api {
            base: shop.base_url(),
            client: Client::new(),
            bearer: Some(token.to_owned()),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/api/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Answer {
        self.send(Method::POST, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// Posts `body` as it is, with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Answer {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_owned());
        answer(request.send().await.unwrap()).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.unwrap()).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let cookies = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        cookies,
        body,
        text,
    }
}

/// Asserts a refusal: the status, and a JSON `error` message.
#[track_caller]
pub fn assert_refused(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(
        answer.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error message in {}",
        answer.text
    );
}
