//! Real receivers on 127.0.0.1: an HTTP server that records every request and answers as
//! told (200, an error status, 429 with Retry-After, or never), and a small SMTP server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the HTTP receiver answers the next request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// This status, empty body.
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    TooMany(u64),
    /// Never answer.
    Hang,
    /// This status with a body quoting the request's URL back, as Express ("Cannot POST
    /// /path"), proxies and error pages do: the path and query as received, the path
    /// percent-decoded, and its last segment alone.
    Echo(u16),
    /// 200 after this many milliseconds.
    Slow(u64),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived and when its answer was ready.
    pub arrived: Instant,
    pub answered: Arc<Mutex<Option<Instant>>>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    answers: Mutex<VecDeque<Answer>>,
}

/// An HTTP receiver; answers 200 unless told otherwise.
#[derive(Clone)]
pub struct HttpReceiver {
    shared: Arc<Shared>,
    pub base: String,
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let shared = Arc::new(Shared::default());
        let router = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        HttpReceiver { shared, base }
    }

    /// The URL of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Queues the answers to the next requests.
    pub fn answer(&self, answers: &[Answer]) {
        self.shared.answers.lock().unwrap().extend(answers);
    }

    /// Every request received so far (those answered with an error too).
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (at most 10s).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} request(s), got {:?}", self.received().len());
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answered = Arc::new(Mutex::new(None));
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
        arrived: Instant::now(),
        answered: answered.clone(),
    });
    let answer = shared.answers.lock().unwrap().pop_front();
    let response = match answer {
        None => StatusCode::OK.into_response(),
        Some(Answer::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
        Some(Answer::TooMany(seconds)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.to_string())],
            "slow down",
        )
            .into_response(),
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
        Some(Answer::Echo(code)) => {
            let path = uri.path();
            let target = uri.path_and_query().map_or(path, |p| p.as_str());
            let decoded = percent_decoded(path);
            let last = decoded.rsplit('/').next().unwrap_or_default().to_owned();
            (
                StatusCode::from_u16(code).unwrap(),
                format!("Cannot POST {target} (path {decoded}, hook {last})"),
            )
                .into_response()
        }
        Some(Answer::Slow(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            StatusCode::OK.into_response()
        }
    };
    *answered.lock().unwrap() = Some(Instant::now());
    response
}

/// `%XX` escapes decoded.
fn percent_decoded(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match text.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
            Some(Ok(b)) if bytes[i] == b'%' => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// Whether the message came over TLS (STARTTLS or implicit).
    pub secure: bool,
    /// The decoded `AUTH PLAIN` credentials, if the client logged in.
    pub login: Option<String>,
}

/// How the SMTP server secures its connections.
#[derive(Clone)]
pub enum SmtpSecurity {
    /// Plain text only; STARTTLS not offered.
    Plain,
    /// Plain text upgraded by STARTTLS, offered with this certificate.
    StartTls(tokio_rustls::TlsAcceptor),
    /// TLS from the first byte.
    Implicit(tokio_rustls::TlsAcceptor),
}

/// A minimal SMTP server (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
/// that keeps what it is sent. It offers AUTH only over TLS, as real servers do.
#[derive(Clone)]
pub struct SmtpReceiver {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpReceiver {
    pub async fn start() -> SmtpReceiver {
        SmtpReceiver::start_with(SmtpSecurity::Plain).await
    }

    pub async fn start_with(security: SmtpSecurity) -> SmtpReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                let security = security.clone();
                tokio::spawn(async move {
                    match security {
                        SmtpSecurity::Plain => {
                            session(socket, kept, false, false, true).await;
                        }
                        SmtpSecurity::StartTls(acceptor) => {
                            if let Some(plain) =
                                session(socket, kept.clone(), true, false, true).await
                                && let Ok(tls) = acceptor.accept(plain).await
                            {
                                session(tls, kept, false, true, false).await;
                            }
                        }
                        SmtpSecurity::Implicit(acceptor) => {
                            if let Ok(tls) = acceptor.accept(socket).await {
                                session(tls, kept, false, true, true).await;
                            }
                        }
                    }
                });
            }
        });
        SmtpReceiver { port, mails }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it: the
/// authority's PEM (what a client must trust) and an acceptor presenting the server's.
pub fn private_ca_server() -> (String, tokio_rustls::TlsAcceptor) {
    use tokio_rustls::rustls;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "wfmon test authority");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    let pem = pem_certificate(ca.der());
    (pem, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// DER to PEM: base64 in lines of 64 characters between the markers.
fn pem_certificate(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// One SMTP conversation over `stream`, opened with a greeting when `greet` (not after
/// STARTTLS). Returns the stream when the client asked for STARTTLS (offered only when
/// `offer_starttls`), for the caller to upgrade.
async fn session<S>(
    stream: S,
    mails: Arc<Mutex<Vec<Mail>>>,
    offer_starttls: bool,
    secure: bool,
    greet: bool,
) -> Option<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = BufReader::new(stream);
    if greet {
        stream
            .get_mut()
            .write_all(b"220 test-smtp ready\r\n")
            .await
            .ok()?;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    let mut login = None;
    let mut line = String::new();
    loop {
        line.clear();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: Vec<u8> = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut r = String::from("250-test-smtp\r\n");
            if offer_starttls {
                r.push_str("250-STARTTLS\r\n");
            }
            if secure {
                r.push_str("250-AUTH PLAIN\r\n");
            }
            r.push_str("250 8BITMIME\r\n");
            r.into_bytes()
        } else if upper == "STARTTLS" && offer_starttls {
            stream.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            return Some(stream.into_inner());
        } else if upper.starts_with("AUTH PLAIN") && secure {
            let encoded = command[10..].trim();
            login = decode_base64(encoded).map(|b| String::from_utf8_lossy(&b).into_owned());
            b"235 accepted\r\n".to_vec()
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            b"250 ok\r\n".to_vec()
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_owned());
            b"250 ok\r\n".to_vec()
        } else if upper == "DATA" {
            stream
                .get_mut()
                .write_all(b"354 end with .\r\n")
                .await
                .ok()?;
            let mut data = String::new();
            loop {
                line.clear();
                match stream.read_line(&mut line).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push('\n');
            }
            mails.lock().unwrap().push(Mail {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
                secure,
                login: login.clone(),
            });
            b"250 queued\r\n".to_vec()
        } else if upper == "QUIT" {
            let _ = stream.get_mut().write_all(b"221 bye\r\n").await;
            return None;
        } else {
            b"250 ok\r\n".to_vec()
        };
        stream.get_mut().write_all(&reply).await.ok()?;
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}
