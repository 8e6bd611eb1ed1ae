//! HTTP exchanges: building the request from a step's templates, sending it with the run's
//! clients (one cookie jar per run, so login flows work), reading the body under a size cap,
//! and describing failures precisely without leaking credentials.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Instant;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};

use super::assertions::{Facts, cut, json_to_cel, string_map, vars_value};
use super::capture::CaptureInput;
use super::redact::{Redactor, is_credential_header};
use super::units::{millis, millis_i64, size};
use crate::template::{Template, render_json};
use crate::workflow::{HttpRequest, RequestBody};

/// The HTTP clients of one run: one per (follow redirects, verify TLS) combination, all
/// sharing the run's cookie jar. Built on first use.
pub(crate) struct HttpClients {
    jar: Arc<reqwest::cookie::Jar>,
    clients: Vec<((bool, bool), Client)>,
}

impl HttpClients {
    /// Clients with a fresh, empty cookie jar.
    pub(crate) fn new() -> HttpClients {
        HttpClients {
            jar: Arc::new(reqwest::cookie::Jar::default()),
            clients: Vec::new(),
        }
    }

    /// The client for these settings.
    pub(crate) fn client(
        &mut self,
        follow_redirects: bool,
        verify_tls: bool,
    ) -> Result<Client, String> {
        let key = (follow_redirects, verify_tls);
        if let Some((_, client)) = self.clients.iter().find(|(k, _)| *k == key) {
            return Ok(client.clone());
        }
        let redirects = if follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = Client::builder();
        if verify_tls {
            // The verifying TLS set-up (the system's trusted roots) is built once per process:
            // building it reads every CA certificate on the machine, which would cost more
            // than the rest of a check.
            builder = builder.tls_backend_preconfigured(shared_tls()?.clone());
        }
        let client = builder
            .cookie_provider(self.jar.clone())
            .redirect(redirects)
            .tls_danger_accept_invalid_certs(!verify_tls)
            // Keeps the peer certificate on the response, for `tls_days_left`.
            .tls_info(true)
            .user_agent(concat!("wfmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        self.clients.push((key, client.clone()));
        Ok(client)
    }
}

/// The TLS client configuration of every verifying client: the platform's verifier (system
/// trusted roots), TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 offered by ALPN, as the HTTP
/// client would set it up itself.
fn shared_tls() -> Result<&'static rustls::ClientConfig, String> {
    static TLS: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    TLS.get_or_init(|| {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A response as assertions and captures see it.
pub(crate) struct Exchange {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub text: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<serde_json::Value>,
    /// From sending the request to the end of the body.
    pub response_time_ms: u64,
    /// Days until the server certificate expires (https only).
    pub tls_days_left: Option<i64>,
}

impl Exchange {
    /// The assertion variables: status, headers, body, text, duration_ms, vars, tls_days_left.
    pub(crate) fn facts(&self, vars: &BTreeMap<String, String>) -> Facts {
        let mut facts = Facts::default();
        facts.set("status", cel::Value::Int(i64::from(self.status)));
        let mut headers: Vec<(&str, String)> = Vec::new();
        for (name, value) in &self.headers {
            // Repeated headers are joined, as HTTP allows (`a, b`).
            match headers.iter_mut().find(|(n, _)| *n == name.as_str()) {
                Some((_, joined)) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                None => headers.push((name.as_str(), value.clone())),
            }
        }
        facts.set(
            "headers",
            string_map(headers.iter().map(|(n, v)| (*n, v.as_str()))),
        );
        match &self.json {
            Some(json) => facts.set("body", json_to_cel(json)),
            None => {
                facts.set("body", cel::Value::from(self.text.as_str()));
                facts.note("body", not_json_note(&self.text));
            }
        }
        facts.set("text", cel::Value::from(self.text.as_str()));
        facts.set(
            "duration_ms",
            cel::Value::Int(millis_i64(self.response_time_ms)),
        );
        facts.set("vars", vars_value(vars));
        match self.tls_days_left {
            Some(days) => facts.set("tls_days_left", cel::Value::Int(days)),
            None => facts.note(
                "tls_days_left",
                "tls_days_left is only set for https URLs".into(),
            ),
        }
        facts
    }

    /// What captures read.
    pub(crate) fn capture_input(&self) -> CaptureInput<'_> {
        CaptureInput {
            text: &self.text,
            json: self.json.as_ref(),
            headers: Some(&self.headers),
        }
    }
}

fn not_json_note(text: &str) -> String {
    if text.trim().is_empty() {
        "the response body is empty, not JSON".into()
    } else {
        format!(
            "the response body is not JSON: {}",
            serde_json::to_string(&cut(text.trim(), 60)).unwrap_or_default()
        )
    }
}

/// Why an exchange produced no response.
pub(crate) struct HttpFailure {
    /// Precise and redacted.
    pub message: String,
    /// Time spent before giving up, when a request was sent.
    pub elapsed_ms: Option<u64>,
}

impl HttpFailure {
    fn before_sending(message: String) -> HttpFailure {
        HttpFailure {
            message,
            elapsed_ms: None,
        }
    }
}

/// A request ready to send, with its redacted description for messages.
pub(crate) struct Prepared {
    client: Client,
    request: reqwest::Request,
    /// `METHOD url`, redacted.
    pub shown: String,
}

/// Renders a step's request with `vars`; credentials in headers are added to `redactor`.
pub(crate) fn prepare(
    spec: &HttpRequest,
    vars: &BTreeMap<String, String>,
    clients: &mut HttpClients,
    redactor: &mut Redactor,
) -> Result<Prepared, HttpFailure> {
    let fail = HttpFailure::before_sending;
    let render = |t: &Template| t.render(vars).map_err(|e| fail(e.to_string()));
    let method = Method::from_bytes(spec.method.as_bytes())
        .map_err(|_| fail(format!("`{}` is not an HTTP method", spec.method)))?;
    let url = parse_url(&render(&spec.url)?, redactor).map_err(fail)?;
    let headers = header_map(&spec.headers, vars, redactor).map_err(fail)?;
    let query = spec
        .query
        .iter()
        .map(|(k, t)| Ok((k.clone(), render(t)?)))
        .collect::<Result<Vec<_>, HttpFailure>>()?;
    let client = clients
        .client(spec.follow_redirects, spec.verify_tls)
        .map_err(fail)?;
    let mut builder = client.request(method.clone(), url).headers(headers.clone());
    if !query.is_empty() {
        builder = builder.query(&query);
    }
    builder = match &spec.body {
        None => builder,
        Some(RequestBody::Json(value)) => {
            builder.json(&render_json(value, vars).map_err(|e| fail(e.to_string()))?)
        }
        Some(RequestBody::Form(pairs)) => {
            let pairs = pairs
                .iter()
                .map(|(k, t)| Ok((k.clone(), render(t)?)))
                .collect::<Result<Vec<_>, HttpFailure>>()?;
            builder.form(&pairs)
        }
        Some(RequestBody::Raw {
            content,
            content_type,
        }) => {
            let builder = builder.body(render(content)?);
            match content_type {
                Some(ct) if !headers.contains_key(CONTENT_TYPE) => {
                    builder.header(CONTENT_TYPE, ct.as_str())
                }
                _ => builder,
            }
        }
    };
    let request = builder.build().map_err(|e| {
        fail(format!(
            "cannot build the request: {}",
            redactor.redact(&chain(&e))
        ))
    })?;
    let shown = format!("{method} {}", redactor.url(request.url()));
    Ok(Prepared {
        client,
        request,
        shown,
    })
}

/// A rendered URL, checked (messages show it redacted).
fn parse_url(text: &str, redactor: &Redactor) -> Result<Url, String> {
    let url = Url::parse(text)
        .map_err(|e| format!("`{}` is not a valid URL: {e}", redactor.redact(text)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{}` is not an http(s) URL", redactor.redact(text)));
    }
    Ok(url)
}

/// Renders headers; values of credential headers (Authorization, ...) become secrets.
fn header_map(
    headers: &[(String, Template)],
    vars: &BTreeMap<String, String>,
    redactor: &mut Redactor,
) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, template) in headers {
        let value = template.render(vars).map_err(|e| e.to_string())?;
        if is_credential_header(name) {
            redactor.add_credential(&value);
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| format!("header `{name}`: the value is not a valid header value"))?;
        // Keeps it out of the HTTP stack's own debug output too.
        value.set_sensitive(is_credential_header(name));
        map.append(header, value);
    }
    Ok(map)
}

/// Sends the request and reads the whole answer, the body capped at `body_cap` bytes.
pub(crate) async fn send(
    prepared: Prepared,
    body_cap: usize,
    redactor: &Redactor,
) -> Result<Exchange, HttpFailure> {
    let Prepared {
        client,
        request,
        shown,
    } = prepared;
    let started = Instant::now();
    let elapsed = |started: Instant| Some(millis(started.elapsed()));
    let fail = |what: String| HttpFailure {
        message: redactor.redact(&format!("{shown}: {what}")),
        elapsed_ms: elapsed(started),
    };
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| fail(describe(&e)))?;
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let tls_days_left = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(|der| super::tls::days_left(der, chrono::Utc::now()));
    let too_large = || {
        format!(
            "the response body is larger than the {} limit",
            size(body_cap)
        )
    };
    if response
        .content_length()
        .is_some_and(|len| len > body_cap as u64)
    {
        return Err(fail(too_large()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fail(format!("reading the body failed: {}", chain(&e))))?
    {
        if body.len() + chunk.len() > body_cap {
            return Err(fail(too_large()));
        }
        body.extend_from_slice(&chunk);
    }
    let response_time_ms = millis(started.elapsed());
    let json = (!body.is_empty())
        .then(|| serde_json::from_slice(&body).ok())
        .flatten();
    Ok(Exchange {
        status,
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
        json,
        response_time_ms,
        tls_days_left,
    })
}

/// A request error as a person reads it: what went wrong first, then the causes.
fn describe(error: &reqwest::Error) -> String {
    let causes = chain_sources(error);
    let tls = causes.contains("certificate") || causes.contains("handshake");
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_dns() {
        "DNS lookup failed"
    } else if tls {
        "TLS handshake failed"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_redirect() {
        "redirect failed"
    } else if error.is_body() {
        "sending the body failed"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    if !causes.is_empty() {
        text.push_str(&format!(": {causes}"));
    }
    if tls && (causes.contains("UnknownIssuer") || causes.contains("self-signed")) {
        text.push_str(" (for a self-signed certificate, set verify_tls: false)");
    }
    text
}

/// An error and its causes, `: `-separated, without repeats and without reqwest's URL.
pub(crate) fn chain(error: &reqwest::Error) -> String {
    let top = error.to_string();
    let top = top
        .split(" for url (")
        .next()
        .unwrap_or_default()
        .to_owned();
    let causes = chain_sources(error);
    if causes.is_empty() {
        top
    } else {
        format!("{top}: {causes}")
    }
}

fn chain_sources(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        // hyper's wrapper (`client error (Connect)`) says nothing its causes don't; layers
        // often repeat their cause's text inside their own.
        let noise = text.is_empty() || text.starts_with("client error (");
        if !noise && !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}
