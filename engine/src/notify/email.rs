//! Email over SMTP (STARTTLS, implicit TLS, or plain text for a relay: with a password only
//! on this host, since SMTP sends the login as readable base64): a multipart/alternative
//! message with a text part and an HTML part in which every value is
//! escaped (for a report, a compact page: headline figures, worst workflows and most
//! failing steps as tables, and a link to the report). The Message-ID is derived from the notification, so a repeated delivery carries
//! the same one. The server's certificate is checked against the system's roots, plus those
//! of `ca_file` for a server signed by a private authority. A server that cannot give the
//! security asked for (no STARTTLS, a certificate that does not verify) is a failed delivery
//! at once: trying again would not change the answer.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use wfmon_model::NotificationChannel;

use super::config::required;
use super::digest::{ReportDigest, millis, percent};
use super::notice::escape_html;
use super::{BoxFuture, Channel, DeliveryKeys, Notice, SendError};
use crate::config::Checker;

/// `email:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmail {
    host: Option<Spanned<String>>,
    port: Option<Spanned<u16>>,
    tls: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    #[serde(default)]
    to: Vec<Spanned<String>>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required); port 587 by default.
    StartTls,
    /// TLS from the first byte; port 465 by default.
    Tls,
    /// No encryption (a relay on the same host or a trusted network); port 25 by default.
    /// Validation refuses it with a password unless the server is on this host.
    None,
}

/// A validated email channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// SMTP server.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// Connection security.
    pub tls: SmtpTls,
    /// Login, if the server needs one.
    pub username: Option<String>,
    /// Password (secret).
    pub password: Option<String>,
    /// Extra trusted roots (PEM), read from `ca_file` when the configuration was loaded.
    pub extra_roots: Option<Vec<u8>>,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

pub(crate) fn validate<T>(
    raw: &RawEmail,
    anchor: &Spanned<T>,
    c: &mut Checker,
    path: &str,
) -> Option<EmailConfig> {
    let before = c.issue_count();
    let host = required(c, &raw.host, anchor, path, "host", "the SMTP server")
        .map(|h| c.expand(&h.value, Some(h), &format!("{path}.host")));
    let tls = match &raw.tls {
        None => SmtpTls::StartTls,
        Some(t) => match t.value.to_ascii_lowercase().as_str() {
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            other => {
                c.issue_at(
                    t,
                    &format!("{path}.tls"),
                    format!("`{other}` is not a TLS mode: write starttls, tls or none"),
                );
                SmtpTls::StartTls
            }
        },
    };
    let port = raw.port.as_ref().map_or(
        match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        },
        |p| p.value,
    );
    let address = |c: &mut Checker, value: &Spanned<String>, key: &str| {
        let text = c.expand(&value.value, Some(value), key);
        match Mailbox::from_str(&text) {
            Ok(_) => Some(text),
            Err(e) => {
                c.issue_at(
                    value,
                    key,
                    format!("`{}` is not an email address: {e}", value.value),
                );
                None
            }
        }
    };
    let from = required(c, &raw.from, anchor, path, "from", "the sender's address")
        .and_then(|f| address(c, f, &format!("{path}.from")));
    if raw.to.is_empty() {
        c.issue_at(
            anchor,
            &format!("{path}.to"),
            "missing: a list of recipients",
        );
    }
    let to: Vec<String> = raw
        .to
        .iter()
        .enumerate()
        .filter_map(|(i, t)| address(c, t, &format!("{path}.to[{i}]")))
        .collect();
    let username = raw
        .username
        .as_ref()
        .map(|u| c.expand(&u.value, Some(u), &format!("{path}.username")));
    let password = raw.password.as_ref().map(|p| {
        let text = c.expand(&p.value, Some(p), &format!("{path}.password"));
        c.secret(&text);
        text
    });
    let extra_roots = raw
        .ca_file
        .as_ref()
        .and_then(|f| read_roots(c, f, &format!("{path}.ca_file"), tls));
    if let (Some(p), None) = (&raw.password, &username) {
        c.issue_at(
            p,
            &format!("{path}.password"),
            "a password needs a username",
        );
    }
    // Without TLS, SMTP AUTH sends the user name and password as base64, readable by anyone
    // on the way: only a server on this host may have them in clear.
    if tls == SmtpTls::None
        && raw.password.is_some()
        && let (Some(written), Some(host)) = (&raw.tls, &host)
        && !is_loopback(host)
    {
        // The host as written: an expanded `${VAR}` is kept secret.
        let host = raw.host.as_ref().map_or("", |h| h.value.as_str());
        c.issue_at(
            written,
            &format!("{path}.tls"),
            format!(
                "`none` would send the password in clear text to {host}: write `tls: starttls` \
                 or `tls: tls`, or leave out username and password (without TLS, credentials \
                 go only to a server on this host: localhost, 127.0.0.1 or ::1)"
            ),
        );
    }
    if c.issue_count() != before {
        return None;
    }
    Some(EmailConfig {
        host: host?,
        port,
        tls,
        username,
        password,
        extra_roots,
        from: from?,
        to,
    })
}

/// Whether `host` names this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends email.
pub struct Email {
    config: EmailConfig,
    timeout: Duration,
}

impl Email {
    /// A sender for `config`; `timeout` bounds each SMTP exchange.
    pub fn new(config: EmailConfig, timeout: Duration) -> Email {
        Email { config, timeout }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let c = &self.config;
        let setup =
            |e: &dyn std::fmt::Display| SendError::permanent(format!("SMTP set-up failed: {e}"));
        let parameters = || -> Result<TlsParameters, SendError> {
            let mut builder = TlsParameters::builder(c.host.clone());
            if let Some(pem) = &c.extra_roots {
                builder = builder
                    .add_root_certificate(Certificate::from_pem(pem).map_err(|e| setup(&e))?);
            }
            builder.build().map_err(|e| setup(&e))
        };
        let tls = match c.tls {
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::Tls => Tls::Wrapper(parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

/// Whether the connection failed in the TLS handshake itself (a certificate that does not
/// verify, a server that does not speak TLS), as opposed to the network.
fn tls_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && inner.downcast_ref::<rustls::Error>().is_some()
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Reads the PEM roots of `ca_file`: readable, at least one certificate, and only useful with
/// TLS.
fn read_roots(c: &mut Checker, file: &Spanned<String>, key: &str, tls: SmtpTls) -> Option<Vec<u8>> {
    if tls == SmtpTls::None {
        c.issue_at(file, key, "a CA file needs `tls: starttls` or `tls: tls`");
        return None;
    }
    let path = c.config_relative(&file.value);
    let pem = match std::fs::read(&path) {
        Ok(pem) => pem,
        Err(e) => {
            c.issue_at(file, key, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        c.issue_at(
            file,
            key,
            format!("{} holds no PEM certificate", path.display()),
        );
        return None;
    }
    if let Err(e) = Certificate::from_pem(&pem) {
        c.issue_at(file, key, format!("{}: {e}", path.display()));
        return None;
    }
    Some(pem)
}

/// An HTML table with a header row; every cell escaped.
fn html_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cell = "style=\"border:1px solid #ccc;padding:4px 8px;text-align:left\"";
    let mut out = String::from("<table style=\"border-collapse:collapse\">\n<tr>");
    for h in header {
        out.push_str(&format!("<th {cell}>{}</th>", escape_html(h)));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for value in row {
            out.push_str(&format!("<td {cell}>{}</td>", escape_html(value)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// The HTML part of a report: headline, worst workflows, most failing steps, link.
fn report_html(notice: &Notice, report: &ReportDigest) -> String {
    let facts: Vec<Vec<String>> = report
        .facts()
        .into_iter()
        .map(|(label, value)| vec![label.to_owned(), value])
        .collect();
    let mut body = html_table(&["Figure", "Value"], &facts);
    if !report.worst_workflows.is_empty() {
        let rows: Vec<Vec<String>> = report
            .worst_workflows
            .iter()
            .map(|w| {
                vec![
                    w.name.clone(),
                    w.runs.to_string(),
                    w.failed.to_string(),
                    percent(w.success_rate),
                    millis(w.p95_duration_ms),
                ]
            })
            .collect();
        body.push_str("<h3>Worst workflows</h3>\n");
        body.push_str(&html_table(
            &["Workflow", "Runs", "Failed", "Success rate", "p95"],
            &rows,
        ));
    }
    if !report.failing_steps.is_empty() {
        let rows: Vec<Vec<String>> = report
            .failing_steps
            .iter()
            .map(|s| {
                vec![
                    s.workflow.clone(),
                    s.step.clone(),
                    s.failures.to_string(),
                    s.runs.to_string(),
                ]
            })
            .collect();
        body.push_str("<h3>Top failing steps</h3>\n");
        body.push_str(&html_table(
            &["Workflow", "Step", "Failures", "Runs"],
            &rows,
        ));
    }
    let link = notice.link.as_ref().map_or(String::new(), |l| {
        format!(
            "<p><a href=\"{}\">Open the report</a></p>\n",
            escape_html(l)
        )
    });
    format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n<p>{}</p>\n{body}{link}</body></html>\n",
        escape_html(&notice.title),
        escape_html(&notice.summary),
    )
}

/// The HTML part: every value escaped.
pub fn html_body(notice: &Notice) -> String {
    if let Some(report) = &notice.report {
        return report_html(notice, report);
    }
    let mut rows = String::new();
    for (label, value) in notice.facts() {
        rows.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
            escape_html(label),
            escape_html(&value)
        ));
    }
    let link = notice.link.as_ref().map_or(String::new(), |l| {
        format!("<p><a href=\"{}\">Open in wfmon</a></p>\n", escape_html(l))
    });
    format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n<p>{}</p>\n<table>\n{rows}</table>\n{link}</body></html>\n",
        escape_html(&notice.title),
        escape_html(&notice.summary),
    )
}

/// The whole message.
pub fn message(
    config: &EmailConfig,
    notice: &Notice,
    keys: &DeliveryKeys,
) -> Result<Message, SendError> {
    let bad =
        |e: &dyn std::fmt::Display| SendError::permanent(format!("cannot build the email: {e}"));
    let mut builder = Message::builder()
        .from(Mailbox::from_str(&config.from).map_err(|e| bad(&e))?)
        .subject(notice.title.clone())
        .message_id(Some(format!("<{}@wfmon>", keys.idempotency_key)));
    for to in &config.to {
        builder = builder.to(Mailbox::from_str(to).map_err(|e| bad(&e))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            notice.text(),
            html_body(notice),
        ))
        .map_err(|e| bad(&e))
}

impl Channel for Email {
    fn kind(&self) -> NotificationChannel {
        NotificationChannel::Email
    }

    fn describe(&self) -> String {
        format!(
            "email via {}:{} to {}",
            self.config.host,
            self.config.port,
            self.config.to.join(", ")
        )
    }

    fn send<'a>(
        &'a self,
        notice: &'a Notice,
        keys: &'a DeliveryKeys,
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let message = message(&self.config, notice, keys)?;
            let transport = self.transport()?;
            match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => {
                    Err(SendError::permanent(format!("SMTP server refused: {e}")))
                }
                // No STARTTLS offered, a certificate that does not verify, a message the
                // server cannot take: the same answer next time.
                Err(e) if e.is_client() || e.is_tls() || tls_refused(&e) => {
                    Err(SendError::permanent(format!(
                        "SMTP with {}: {e}",
                        match self.config.tls {
                            SmtpTls::StartTls => "STARTTLS",
                            SmtpTls::Tls => "TLS",
                            SmtpTls::None => "no TLS",
                        }
                    )))
                }
                Err(e) => Err(SendError::retry(format!("SMTP: {e}"))),
            }
        })
    }
}
