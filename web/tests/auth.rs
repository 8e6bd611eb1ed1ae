//! Authentication in front of the API and the dashboard, the same test bodies on SQLite and
//! PostgreSQL, against the real router on 127.0.0.1: tokens and roles, login and the session
//! cookie, CSRF, origins, redirects, the login's rate limit, and no secret in any answer.

mod common;

use std::time::Duration;

use common::*;
use reqwest::header;
use wfmon_model::*;
use wfmon_web::AuthSettings;

/// Authentication on, sessions of one hour, `/metrics` closed.
fn settings() -> AuthSettings {
    AuthSettings {
        enabled: true,
        session_lifetime: Duration::from_secs(3600),
        metrics_open: false,
        public_url: None,
    }
}

macro_rules! on_both_backends_with_auth {
    ($settings:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestApi::sqlite_with_auth($settings).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(api) = $crate::common::TestApi::postgres_with_auth($settings).await {
                        super::$name(api).await;
                    }
                }
            )*
        }
    };
}

on_both_backends_with_auth!(
    super::settings();
    nothing_valid_is_401_and_pages_redirect_to_the_login,
    roles_decide_what_a_token_may_do,
    revoked_and_expired_tokens_are_refused,
    a_login_sets_a_strict_cookie_that_needs_the_csrf_token_to_change_anything,
    cross_origin_requests_are_refused,
    next_only_leads_to_local_paths,
    failed_logins_are_limited,
    an_expired_session_is_refused,
    metrics_are_closed_unless_configured_open,
);

/// A client that does not follow redirects.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

const PASSWORD: &str = "a long enough password";

/// Logs `username` in through the form; returns the response.
async fn login(api: &TestApi, username: &str, password: &str, next: &str) -> reqwest::Response {
    client()
        .post(api.url("/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}

/// The session id from a login's `Set-Cookie`.
fn session_id(response: &reqwest::Response) -> String {
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .expect("a cookie")
        .to_str()
        .unwrap();
    cookie
        .strip_prefix("wfmon_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie")
        .to_owned()
}

async fn nothing_valid_is_401_and_pages_redirect_to_the_login(api: TestApi) {
    let c = client();
    for path in ["/api/overview", "/api/workflows", "/api/events", "/api/ws"] {
        let response = c.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer"
        );
        let (_, body) = read(response).await;
        assert_eq!(body["error"], "unauthorized", "{path}: {body}");
    }
    let response = c
        .get(api.url("/api/overview"))
        .bearer_auth("wfm_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = read(
        c.post(api.url("/api/schedules/quick@staging/pause"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    for path in ["/healthz", "/readyz", "/login"] {
        let response = c.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path} is open");
    }
    let response = c
        .get(api.url("/workflows/quick?window=24h"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        "/login?next=/workflows/quick%3Fwindow%3D24h"
    );
    let response = c.get(api.url("/")).send().await.unwrap();
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        "/login?next=/"
    );

    // The login page is escaped HTML carrying `next` back.
    let page = c
        .get(api.url("/login?next=/x%22%3E%3Cscript%3E"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"next\" value=\"/x&quot;&gt;&lt;script&gt;\""),
        "{page}"
    );
    assert!(!page.contains("<script>"));
}

async fn roles_decide_what_a_token_may_do(api: TestApi) {
    let reader = api
        .store
        .create_token("reader", Role::Read, None)
        .await
        .unwrap();
    let admin = api
        .store
        .create_token("deployer", Role::Admin, None)
        .await
        .unwrap();
    let c = client();
    let response = c
        .get(api.url("/api/workflows"))
        .bearer_auth(&reader.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = read(
        c.post(api.url("/api/schedules/quick@staging/pause"))
            .bearer_auth(&reader.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("needs role admin"),
        "{body}"
    );
    let row = api
        .store
        .get::<WorkflowSchedule>("quick@staging")
        .await
        .unwrap()
        .unwrap();
    assert!(row.enabled, "a refused request changes nothing");

    let response = c
        .post(api.url("/api/schedules/quick@staging/pause"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["pausedBy"], "deployer",
        "who is the token's name: {body}"
    );
    assert!(!text.contains(&admin.token[4..]), "the token is not echoed");
    let used = api.store.find_token("deployer").await.unwrap().unwrap();
    assert!(used.last_used_at.is_some(), "its use is noted");
}

async fn revoked_and_expired_tokens_are_refused(api: TestApi) {
    let revoked = api
        .store
        .create_token("old", Role::Admin, None)
        .await
        .unwrap();
    api.store.revoke_token("old").await.unwrap();
    let expired = api
        .store
        .create_token(
            "lapsed",
            Role::Admin,
            Some(Timestamp::now().minus(chrono::TimeDelta::seconds(1))),
        )
        .await
        .unwrap();
    let c = client();
    for token in [&revoked.token, &expired.token] {
        let response = c
            .get(api.url("/api/overview"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}

async fn a_login_sets_a_strict_cookie_that_needs_the_csrf_token_to_change_anything(api: TestApi) {
    api.store
        .add_user("alice", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let response = login(&api, "alice", PASSWORD, "/workflows/quick").await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        "/workflows/quick"
    );
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "not over plain http: {cookie}");
    let session = session_id(&response);
    let body = response.text().await.unwrap();
    assert!(!body.contains(PASSWORD));

    // Only hashes are stored.
    let grant = api
        .store
        .find_session(&session, Timestamp::now())
        .await
        .unwrap()
        .expect("the session");
    assert_ne!(grant.record.session_hash, session);
    assert_ne!(grant.record.csrf_hash, grant.csrf_token);
    let stored = serde_json::to_string(&grant.record).unwrap();
    assert!(!stored.contains(&session) && !stored.contains(&grant.csrf_token));

    let c = client();
    let with_cookie = |request: reqwest::RequestBuilder| {
        request.header(header::COOKIE, format!("wfmon_session={session}"))
    };
    let response = with_cookie(c.get(api.url("/api/overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pause = api.url("/api/schedules/quick@staging/pause");
    let (status, body) = read(with_cookie(c.post(&pause)).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("csrf_failed")),
        "{body}"
    );
    let (status, _) = read(
        with_cookie(c.post(&pause))
            .header("x-csrf-token", "0".repeat(64))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        api.store
            .get::<WorkflowSchedule>("quick@staging")
            .await
            .unwrap()
            .unwrap()
            .enabled,
        "nothing changed"
    );
    let (status, body) = read(
        with_cookie(c.post(&pause))
            .header("x-csrf-token", &grant.csrf_token)
            .header(header::ORIGIN, &api.base)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pausedBy"], "alice");

    // Logging out ends the session.
    let response = with_cookie(c.post(api.url("/logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let response = with_cookie(c.get(api.url("/api/overview")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A read-only user may look, not act, CSRF token or not.
    api.store
        .add_user("viewer", Role::Read, PASSWORD)
        .await
        .unwrap();
    let response = login(&api, "viewer", PASSWORD, "/").await;
    let session = session_id(&response);
    let grant = api
        .store
        .find_session(&session, Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let (status, body) = read(
        c.post(&pause)
            .header(header::COOKIE, format!("wfmon_session={session}"))
            .header("x-csrf-token", &grant.csrf_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
}

async fn cross_origin_requests_are_refused(api: TestApi) {
    let admin = api
        .store
        .create_token("ops", Role::Admin, None)
        .await
        .unwrap();
    api.store
        .add_user("alice", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let c = client();
    for (method, path) in [
        (reqwest::Method::GET, "/api/overview"),
        (reqwest::Method::POST, "/api/schedules/quick@staging/pause"),
        (reqwest::Method::POST, "/login"),
    ] {
        let (status, body) = read(
            c.request(method.clone(), api.url(path))
                .bearer_auth(&admin.token)
                .header(header::ORIGIN, "http://evil.example")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("cross_origin")),
            "{method} {path}: {body}"
        );
    }
    // A login form posted from elsewhere never gets to the password check.
    let response = client()
        .post(api.url("/login"))
        .header(header::ORIGIN, "null")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
}

async fn next_only_leads_to_local_paths(api: TestApi) {
    api.store
        .add_user("alice", Role::Read, PASSWORD)
        .await
        .unwrap();
    for (next, expected) in [
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/alerts?status=open", "/alerts?status=open"),
    ] {
        let response = login(&api, "alice", PASSWORD, next).await;
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(
            response.headers().get(header::LOCATION).unwrap(),
            expected,
            "{next}"
        );
    }
}

async fn failed_logins_are_limited(api: TestApi) {
    api.store
        .add_user("alice", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let wrong = login(&api, "alice", "not the password", "/").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    let wrong_text = wrong.text().await.unwrap();
    let unknown = login(&api, "nobody", "not the password", "/").await;
    assert_eq!(unknown.status(), 401);
    let unknown_text = unknown.text().await.unwrap();
    assert!(wrong_text.contains("wrong username or password"));
    assert_eq!(
        wrong_text.replace("alice", "nobody"),
        unknown_text,
        "an unknown user and a wrong password look the same"
    );
    for _ in 0..3 {
        assert_eq!(login(&api, "alice", "still wrong", "/").await.status(), 401);
    }
    let limited = login(&api, "alice", PASSWORD, "/").await;
    assert_eq!(limited.status(), 429, "the right password is refused too");
    let retry: u64 = limited
        .headers()
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(limited.headers().get(header::SET_COOKIE).is_none());
}

async fn an_expired_session_is_refused(api: TestApi) {
    let user = api
        .store
        .add_user("alice", Role::Admin, PASSWORD)
        .await
        .unwrap();
    let grant = api
        .store
        .create_session(&user, chrono::TimeDelta::seconds(-1))
        .await
        .unwrap();
    let c = client();
    let cookie = format!("wfmon_session={}", grant.session_id);
    let response = c
        .get(api.url("/api/overview"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = c
        .get(api.url("/alerts"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        "/login?next=/alerts"
    );
    assert!(
        response
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "the stale cookie is dropped"
    );
    // Expired sessions that are never presented again are deleted too; live ones stay.
    let expired = api
        .store
        .create_session(&user, chrono::TimeDelta::seconds(-1))
        .await
        .unwrap();
    let live = api
        .store
        .create_session(&user, chrono::TimeDelta::hours(1))
        .await
        .unwrap();
    let now = Timestamp::now();
    assert_eq!(api.store.end_expired_sessions(now).await.unwrap(), 1);
    assert!(
        api.store
            .find_session(&expired.session_id, now.minus(chrono::TimeDelta::hours(1)))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        api.store
            .find_session(&live.session_id, now)
            .await
            .unwrap()
            .is_some()
    );
}

async fn metrics_are_closed_unless_configured_open(api: TestApi) {
    let c = client();
    let response = c.get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let reader = api
        .store
        .create_token("prometheus", Role::Read, None)
        .await
        .unwrap();
    let response = c
        .get(api.url("/metrics"))
        .bearer_auth(&reader.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

mod secure {
    use super::*;

    #[tokio::test]
    async fn an_https_public_url_makes_the_cookie_secure_and_its_origin_trusted() {
        let api = TestApi::sqlite_with_auth(AuthSettings {
            public_url: Some("https://wfmon.example".into()),
            ..settings()
        })
        .await;
        api.store
            .add_user("alice", Role::Admin, PASSWORD)
            .await
            .unwrap();
        let response = client()
            .post(api.url("/login"))
            .header(header::ORIGIN, "https://wfmon.example")
            .form(&[("username", "alice"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
    }

    #[tokio::test]
    async fn metrics_may_be_configured_open_while_the_api_stays_closed() {
        let api = TestApi::sqlite_with_auth(AuthSettings {
            metrics_open: true,
            ..settings()
        })
        .await;
        let c = client();
        let response = c.get(api.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("wfmon_build_info"));
        let response = c.get(api.url("/api/overview")).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }

    #[tokio::test]
    async fn an_alert_action_records_the_token_as_who() {
        let api = TestApi::sqlite_with_auth(settings()).await;
        let open = alert("quick", AlertStatus::Active);
        api.store.insert(std::slice::from_ref(&open)).await.unwrap();
        let admin = api
            .store
            .create_token("oncall-bot", Role::Admin, None)
            .await
            .unwrap();
        let response = client()
            .post(api.url(&format!("/api/alerts/{}/acknowledge", open.alert_id)))
            .bearer_auth(&admin.token)
            .json(&serde_json::json!({"by": "someone else"}))
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["acknowledgedBy"], "oncall-bot",
            "not what the body claims"
        );
    }

    #[tokio::test]
    async fn with_auth_off_everything_is_open_and_recorded_as_api() {
        let api = TestApi::sqlite().await;
        let (status, body) = api.post("/api/schedules/quick@staging/pause", None).await;
        assert_eq!((status, body["pausedBy"].as_str()), (200, Some("api")));
    }
}
