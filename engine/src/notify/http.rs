//! The HTTP part shared by the webhook channels: one POST, its outcome classified as
//! delivered, worth retrying (timeouts, connection errors, 5xx, 408, 429 with its
//! Retry-After) or not (other 4xx). Errors never carry the URL: it holds the token.

use std::time::Duration;

use super::SendError;
use super::notice::truncate;

/// A client for one channel; `timeout` bounds each attempt, redirects are not followed
/// (a webhook that redirects is misconfigured, and the token must not travel elsewhere).
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("wfmon/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with rustls builds")
}

/// POSTs `body` (JSON) with extra headers.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> Result<(), SendError> {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.map_err(|e| {
        let e = e.without_url();
        if e.is_timeout() {
            SendError::retry("no answer in time (timed out)")
        } else if e.is_connect() {
            SendError::retry(format!("cannot connect: {}", source_text(&e)))
        } else {
            SendError::retry(format!("request failed: {}", source_text(&e)))
        }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let text = response.text().await.unwrap_or_default();
    let reason = format!(
        "HTTP {}{}",
        status.as_u16(),
        if text.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", truncate(text.trim(), 200))
        }
    );
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        Err(SendError::Retry {
            reason,
            after: retry_after,
        })
    } else {
        Err(SendError::permanent(reason))
    }
}

/// The error with its causes, one after the other.
fn source_text(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

/// Retry-After: seconds, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
