//! Each channel against a real receiver: the exact payload, the signature, and how every
//! kind of failure is reported.

use std::path::Path;
use std::time::{Duration, Instant};

use wfmon_engine::config::Config;
use wfmon_engine::notify::{Channel, DeliveryKeys, Notice, SendError, build_channel, webhook};
use wfmon_model::{AlertSeverity, NotificationType, Timestamp};

use crate::receivers::{Answer, HttpReceiver, SmtpReceiver, SmtpSecurity, private_ca_server};

fn notice(kind: NotificationType) -> Notice {
    Notice {
        kind,
        severity: AlertSeverity::Critical,
        rule: "login-failing".into(),
        workflow: "user-login".into(),
        environment: "production".into(),
        title: "CRITICAL: user-login in production (login-failing)".into(),
        summary: "the last 3 run(s) failed in a row".into(),
        alert_id: Some("alert_1".into()),
        run_id: Some("run_9".into()),
        run_status: Some("FAILED".into()),
        failed_step: Some("log in".into()),
        assertion: Some("status == 200".into()),
        expected: Some("200".into()),
        actual: Some("500".into()),
        error: Some("expected status 200, got 500 <b>&</b>".into()),
        duration_ms: Some(1234),
        occurrences: 3,
        triggered_at: Timestamp::parse("2026-11-25T10:00:00.000Z").unwrap(),
        link: Some("https://wfmon.example.com/executions/run_9".into()),
        report: None,
    }
}

fn keys() -> DeliveryKeys {
    DeliveryKeys {
        idempotency_key: "ntf_42".into(),
        dedup_key: "alert_1".into(),
    }
}

/// One channel named `c` from a `notifications.channels.c` body.
fn channel(body: &str, timeout: Duration) -> Box<dyn FnOnce() -> std::sync::Arc<dyn Channel>> {
    let text = format!("notifications:\n  channels:\n    c:\n      {body}\n");
    let config = Config::parse(&text, Path::new("wfmon.yaml")).unwrap();
    let c = config.notifications.channels["c"].clone();
    Box::new(move || build_channel(&c, timeout))
}

#[tokio::test]
async fn slack_gets_block_kit_with_what_failed_where_and_a_link() {
    let rx = HttpReceiver::start().await;
    let slack = channel(
        &format!(
            "slack: {{webhook_url: \"{}\"}}",
            rx.url("/services/T/B/secret")
        ),
        Duration::from_secs(5),
    )();
    slack
        .send(&notice(NotificationType::Alert), &keys())
        .await
        .unwrap();
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].path, "/services/T/B/secret");
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/json")
    );
    let body = got[0].json();
    assert_eq!(
        body["text"],
        "CRITICAL: user-login in production (login-failing)"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(
        blocks[1]["text"]["text"],
        "the last 3 run(s) failed in a row"
    );
    let fields: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    for expected in [
        "*Workflow*\nuser-login",
        "*Environment*\nproduction",
        "*Failed step*\nlog in",
        "*Assertion*\nstatus == 200",
        "*Expected*\n200",
        "*Actual*\n500",
        "*Error*\nexpected status 200, got 500 &lt;b&gt;&amp;&lt;/b&gt;",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected:?} not in {fields:#?}"
        );
    }
    assert_eq!(
        blocks[3]["elements"][0]["url"],
        "https://wfmon.example.com/executions/run_9"
    );
    assert!(!slack.describe().contains("secret"), "{}", slack.describe());
}

#[tokio::test]
async fn discord_gets_one_embed_and_teams_an_adaptive_card() {
    let rx = HttpReceiver::start().await;
    let discord = channel(
        &format!(
            "discord: {{webhook_url: \"{}\"}}",
            rx.url("/api/webhooks/1/tok")
        ),
        Duration::from_secs(5),
    )();
    discord
        .send(&notice(NotificationType::Recovery), &keys())
        .await
        .unwrap();
    let teams = channel(
        &format!("teams: {{webhook_url: \"{}\"}}", rx.url("/workflows/1")),
        Duration::from_secs(5),
    )();
    teams
        .send(&notice(NotificationType::Alert), &keys())
        .await
        .unwrap();
    let got = rx.wait_for(2).await;
    let d = got[0].json();
    let embed = &d["embeds"][0];
    assert_eq!(
        embed["title"],
        "CRITICAL: user-login in production (login-failing)"
    );
    assert_eq!(embed["color"], 0x2eb886, "green for a recovery");
    assert_eq!(embed["url"], "https://wfmon.example.com/executions/run_9");
    assert!(
        embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Failed step" && f["value"] == "log in")
    );
    assert_eq!(d["allowed_mentions"]["parse"], serde_json::json!([]));
    let t = got[1].json();
    assert_eq!(t["type"], "message");
    let card = &t["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(
        card["content"]["body"][0]["text"],
        "CRITICAL: user-login in production (login-failing)"
    );
    let facts = card["content"]["body"][2]["facts"].as_array().unwrap();
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Expected" && f["value"] == "200")
    );
    assert_eq!(card["content"]["actions"][0]["type"], "Action.OpenUrl");
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_with_the_alert_as_dedup_key() {
    let rx = HttpReceiver::start().await;
    let pd = channel(
        &format!(
            "pagerduty: {{routing_key: \"R0UTING\", url: \"{}\"}}",
            rx.url("/v2/enqueue")
        ),
        Duration::from_secs(5),
    )();
    pd.send(&notice(NotificationType::Alert), &keys())
        .await
        .unwrap();
    pd.send(&notice(NotificationType::Recovery), &keys())
        .await
        .unwrap();
    let got = rx.wait_for(2).await;
    let trigger = got[0].json();
    assert_eq!(trigger["routing_key"], "R0UTING");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "alert_1");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "wfmon/production/user-login");
    assert_eq!(
        trigger["payload"]["summary"],
        "CRITICAL: user-login in production (login-failing)"
    );
    assert_eq!(trigger["payload"]["custom_details"]["Actual"], "500");
    assert_eq!(
        trigger["links"][0]["href"],
        "https://wfmon.example.com/executions/run_9"
    );
    assert_eq!(
        got[1].json(),
        serde_json::json!({"routing_key": "R0UTING", "event_action": "resolve", "dedup_key": "alert_1"})
    );
}

#[tokio::test]
async fn the_webhook_signs_the_exact_body_and_sends_its_headers() {
    let rx = HttpReceiver::start().await;
    let hook = channel(
        &format!(
            "webhook: {{url: \"{}\", headers: {{X-Team: ops}}, secret: \"0123456789abcdef\"}}",
            rx.url("/hook")
        ),
        Duration::from_secs(5),
    )();
    hook.send(&notice(NotificationType::Alert), &keys())
        .await
        .unwrap();
    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.header("x-team").as_deref(), Some("ops"));
    assert_eq!(r.header("idempotency-key").as_deref(), Some("ntf_42"));
    let expected = webhook::signature("0123456789abcdef", &r.body);
    assert_eq!(r.header("x-wfmon-signature"), Some(expected));
    // The signature is HMAC-SHA256 over the bytes, recomputed here independently.
    let sig = r.header("x-wfmon-signature").unwrap();
    assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
    let body = r.json();
    assert_eq!(body["type"], "ALERT");
    assert_eq!(body["idempotencyKey"], "ntf_42");
    assert_eq!(body["workflow"], "user-login");
    assert_eq!(body["failedStep"], "log in");
    assert_eq!(body["expected"], "200");
    assert_eq!(body["actual"], "500");
    assert_eq!(body["durationMs"], 1234);
}

#[tokio::test]
async fn failures_are_classified_with_the_reason_and_without_the_url() {
    let rx = HttpReceiver::start().await;
    let url = rx.url("/hooks/T0KEN-IN-URL");
    let hook = channel(
        &format!("webhook: {{url: \"{url}\"}}"),
        Duration::from_millis(500),
    )();
    rx.answer(&[
        Answer::Status(500),
        Answer::TooMany(7),
        Answer::Status(404),
        Answer::Hang,
    ]);
    let n = notice(NotificationType::Alert);
    match hook.send(&n, &keys()).await {
        Err(SendError::Retry {
            reason,
            after: None,
        }) => assert!(reason.contains("HTTP 500"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match hook.send(&n, &keys()).await {
        Err(SendError::Retry { reason, after }) => {
            assert!(reason.contains("HTTP 429"), "{reason}");
            assert_eq!(after, Some(Duration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    match hook.send(&n, &keys()).await {
        Err(SendError::Permanent { reason }) => assert!(reason.contains("HTTP 404"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    match hook.send(&n, &keys()).await {
        Err(SendError::Retry { reason, .. }) => {
            assert!(reason.contains("timed out"), "{reason}");
            assert!(!reason.contains("T0KEN"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );

    // Nobody listening: refused, retried, and the URL (with its token) not in the reason.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = channel(
        &format!("slack: {{webhook_url: \"http://127.0.0.1:{closed}/services/T0KEN\"}}"),
        Duration::from_secs(2),
    )();
    match gone.send(&n, &keys()).await {
        Err(SendError::Retry { reason, .. }) => {
            assert!(reason.contains("connect"), "{reason}");
            assert!(!reason.contains("T0KEN"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Receivers quote the URL back in their errors ("Cannot POST /hook/…"): whatever part of
/// the channel's URL can hold a token is hidden from the reason, as sent, decoded and alone,
/// when the URL is written in the file and when it comes from `${VAR}`; the reason stays
/// readable.
#[tokio::test]
async fn a_receiver_that_quotes_the_url_back_does_not_put_its_token_in_the_reason() {
    let rx = HttpReceiver::start().await;
    // SAFETY: only this test reads the variable, and it is set before the configuration is.
    unsafe {
        std::env::set_var(
            "WFMON_TEST_ECHO_URL",
            rx.url("/hook/echo/ENVSECRET42?key=QU3RYSECRET"),
        )
    };
    let cases: Vec<(String, &[&str])> = vec![
        (
            format!(
                "webhook: {{url: \"{}\"}}",
                rx.url("/hook/echo/T000/B000/XOXSECRETliteral")
            ),
            &["T000", "B000", "XOXSECRETliteral"],
        ),
        (
            "webhook: {url: \"${WFMON_TEST_ECHO_URL}\"}".to_owned(),
            &["ENVSECRET42", "QU3RYSECRET"],
        ),
        (
            format!(
                "slack: {{webhook_url: \"{}\"}}",
                rx.url("/services/TA1B2C3/BD4E5F6/tok%20en%C3%BCnicode")
            ),
            &["TA1B2C3", "BD4E5F6", "tok%20en", "tok en", "ünicode"],
        ),
        (
            format!(
                "discord: {{webhook_url: \"{}\"}}",
                rx.url("/api/webhooks/1234567890/abcdefghijklmnopqrstuvwxyz")
            ),
            &["1234567890", "abcdefghijklmnopqrstuvwxyz"],
        ),
        (
            format!(
                "teams: {{webhook_url: \"{}\"}}",
                rx.url("/workflows/0a1b2c3d/triggers/manual/paths/invoke?api-version=1&sig=S1GNATURE%2Bx")
            ),
            &["0a1b2c3d", "S1GNATURE"],
        ),
        (
            format!(
                "pagerduty: {{routing_key: R0UTINGKEY, url: \"{}\"}}",
                rx.url("/v2/enqueue/PDT0KEN")
            ),
            &["PDT0KEN"],
        ),
    ];
    let n = notice(NotificationType::Alert);
    for (body, secrets) in cases {
        let c = channel(&body, Duration::from_secs(5))();
        rx.answer(&[Answer::Echo(404)]);
        let reason = match c.send(&n, &keys()).await {
            Err(SendError::Permanent { reason }) => reason,
            other => panic!("{body}: {other:?}"),
        };
        assert!(
            reason.starts_with("HTTP 404: Cannot POST ***"),
            "{body}: {reason}"
        );
        for secret in secrets {
            assert!(!reason.contains(secret), "{body}: {secret} in {reason}");
        }
    }
    // What the receiver got is what was configured: only the reason is redacted.
    let got = rx.received();
    assert_eq!(got[0].path, "/hook/echo/T000/B000/XOXSECRETliteral");
    assert_eq!(got[1].path, "/hook/echo/ENVSECRET42");
}

#[tokio::test]
async fn email_has_both_parts_escaped_html_and_a_stable_message_id() {
    let smtp = SmtpReceiver::start().await;
    let mail = channel(
        &format!(
            "email: {{host: 127.0.0.1, port: {}, tls: none, from: \"wfmon <wfmon@example.com>\", to: [ops@example.com, oncall@example.com]}}",
            smtp.port
        ),
        Duration::from_secs(5),
    )();
    let mut n = notice(NotificationType::Alert);
    n.title = "CRITICAL: <script>alert(1)</script> & co".into();
    mail.send(&n, &keys()).await.unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "<wfmon@example.com>");
    assert_eq!(m.to, ["<ops@example.com>", "<oncall@example.com>"]);
    let data = &quoted_printable_decoded(&m.data);
    assert!(data.contains("From: wfmon <wfmon@example.com>"), "{data}");
    assert!(
        data.contains("To: ops@example.com, oncall@example.com"),
        "{data}"
    );
    assert!(
        data.contains("Subject: CRITICAL: <script>alert(1)</script> & co"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <ntf_42@wfmon>"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(data.contains("Failed step: log in"), "{data}");
    let html = &data[data.find("<!DOCTYPE html>").expect("an HTML part")..];
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("expected status 200, got 500 &lt;b&gt;&amp;&lt;/b&gt;"),
        "{html}"
    );
    assert!(
        html.contains("href=\"https://wfmon.example.com/executions/run_9\""),
        "{html}"
    );
}

#[tokio::test]
async fn an_smtp_server_that_is_not_there_is_a_retry() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mail = channel(
        &format!(
            "email: {{host: 127.0.0.1, port: {closed}, tls: none, username: u, password: \"pa55word\", from: a@example.com, to: [b@example.com]}}"
        ),
        Duration::from_secs(2),
    )();
    match mail.send(&notice(NotificationType::Alert), &keys()).await {
        Err(SendError::Retry { reason, .. }) => assert!(!reason.contains("pa55word"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// The message with quoted-printable soft line breaks and escapes undone (the parts of a
/// message with long lines are sent that way).
fn quoted_printable_decoded(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn starttls_required_but_not_offered_fails_at_once_without_sending() {
    let smtp = SmtpReceiver::start().await;
    for tls in ["starttls", "tls"] {
        let mail = channel(
            &format!(
                "email: {{host: 127.0.0.1, port: {}, tls: {tls}, from: a@example.com, to: [b@example.com]}}",
                smtp.port
            ),
            Duration::from_secs(2),
        )();
        match mail.send(&notice(NotificationType::Alert), &keys()).await {
            Err(SendError::Permanent { reason }) => assert!(reason.contains("TLS"), "{reason}"),
            other => panic!("{tls}: {other:?}"),
        }
    }
    assert!(smtp.mails().is_empty());
}

/// A config line for an email channel to the receiver on `port` trusting the authority in
/// `ca_file`, logging in as `ops` with a password.
fn tls_mail(tls: &str, port: u16, ca_file: Option<&Path>) -> String {
    let ca = ca_file.map_or(String::new(), |f| format!(", ca_file: \"{}\"", f.display()));
    format!(
        "email: {{host: 127.0.0.1, port: {port}, tls: {tls}{ca}, username: ops, password: \"s3cret-pass\", from: a@example.com, to: [b@example.com]}}"
    )
}

#[tokio::test]
async fn email_over_starttls_and_implicit_tls_logs_in_only_once_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    for (tls, mode) in [("starttls", "StartTls"), ("tls", "Implicit")] {
        let (ca_pem, acceptor) = private_ca_server();
        let ca_file = dir.path().join(format!("{tls}-ca.pem"));
        std::fs::write(&ca_file, ca_pem).unwrap();
        let security = if mode == "StartTls" {
            SmtpSecurity::StartTls(acceptor)
        } else {
            SmtpSecurity::Implicit(acceptor)
        };
        let smtp = SmtpReceiver::start_with(security).await;
        let mail = channel(
            &tls_mail(tls, smtp.port, Some(&ca_file)),
            Duration::from_secs(5),
        )();
        mail.send(&notice(NotificationType::Alert), &keys())
            .await
            .unwrap_or_else(|e| panic!("{tls}: {e:?}"));
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1, "{tls}");
        assert!(mails[0].secure, "{tls}: the message went in clear text");
        assert_eq!(
            mails[0].login.as_deref(),
            Some("\0ops\0s3cret-pass"),
            "{tls}: the login happened over TLS"
        );
        let data = quoted_printable_decoded(&mails[0].data);
        assert!(data.contains("Content-Type: text/html"), "{tls}: {data}");
    }
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_fails_at_once_and_sends_nothing() {
    for (tls, mode) in [("starttls", "StartTls"), ("tls", "Implicit")] {
        let (_, acceptor) = private_ca_server();
        let security = if mode == "StartTls" {
            SmtpSecurity::StartTls(acceptor)
        } else {
            SmtpSecurity::Implicit(acceptor)
        };
        let smtp = SmtpReceiver::start_with(security).await;
        let mail = channel(&tls_mail(tls, smtp.port, None), Duration::from_secs(5))();
        match mail.send(&notice(NotificationType::Alert), &keys()).await {
            Err(SendError::Permanent { reason }) => {
                assert!(!reason.contains("s3cret-pass"), "{reason}");
            }
            other => panic!("{tls}: {other:?}"),
        }
        assert!(smtp.mails().is_empty(), "{tls}");
    }
}

#[test]
fn a_ca_file_that_cannot_be_read_or_holds_no_certificate_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (file, expected) in [
        (&empty, "holds no PEM certificate"),
        (&missing, "cannot read"),
    ] {
        let text = format!(
            "notifications:\n  channels:\n    c:\n      {}\n",
            tls_mail("starttls", 587, Some(file))
        );
        let err = Config::parse(&text, Path::new("wfmon.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("notifications.channels.c.email.ca_file"),
            "{err}"
        );
        assert!(err.contains(expected), "{err}");
    }
}

/// `tls: none` sends everything in clear: with a password only to a server on this host;
/// anywhere else the configuration is refused, naming the key.
#[test]
fn a_password_without_tls_is_refused_unless_the_server_is_on_this_host() {
    let mail = |host: &str, login: &str| {
        format!(
            "notifications:\n  channels:\n    c:\n      email: {{host: \"{host}\", tls: none{login}, from: a@example.com, to: [b@example.com]}}\n"
        )
    };
    let login = ", username: ops, password: \"s3cret-pass\"";
    for host in ["smtp.example.com", "10.0.0.5", "::ffff:8.8.8.8"] {
        let err = Config::parse(&mail(host, login), Path::new("wfmon.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "notifications.channels.c.email.tls: `none` would send the password in clear text"
            ),
            "{host}: {err}"
        );
        assert!(!err.contains("s3cret-pass"), "{err}");
        // Without credentials a plain relay is fine.
        Config::parse(&mail(host, ""), Path::new("wfmon.yaml")).unwrap();
    }
    for host in [
        "localhost",
        "127.0.0.1",
        "127.0.0.53",
        "::1",
        "[::1]",
        "LOCALHOST.",
    ] {
        Config::parse(&mail(host, login), Path::new("wfmon.yaml"))
            .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
}
