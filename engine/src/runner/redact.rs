//! Keeps secrets out of every message a run produces: configuration secrets (`${ENV}`
//! values), Authorization header values and captured values are replaced with `***`.

/// Values to hide, longest first so that a secret containing another is hidden whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    values: Vec<String>,
}

/// Shorter values are left alone: hiding every `a` or `42` would make messages unreadable,
/// and such values are not secrets worth the name (the configuration uses the same rule).
const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    /// A redactor for the configuration's secrets.
    pub(crate) fn new(secrets: &[String]) -> Redactor {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Hides `value` from now on.
    pub(crate) fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_owned());
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Hides an Authorization-style header value: the whole value and its credential part
    /// (`Bearer abc` hides `Bearer abc` and `abc`).
    pub(crate) fn add_credential(&mut self, header_value: &str) {
        self.add(header_value);
        if let Some((_, credential)) = header_value.trim().split_once(char::is_whitespace) {
            self.add(credential);
        }
    }

    /// `text` with every hidden value replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), "***");
            }
        }
        out
    }

    /// A URL fit for messages: the password of its userinfo and every hidden value replaced.
    pub(crate) fn url(&self, url: &reqwest::Url) -> String {
        let mut shown = url.clone();
        if shown.password().is_some() {
            // Only fails for URLs that cannot have credentials, which this one has.
            let _ = shown.set_password(Some("***"));
        }
        self.redact(shown.as_str())
    }
}

/// Whether a request header carries credentials whose value must never be shown.
pub(crate) fn is_credential_header(name: &str) -> bool {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secrets_credentials_and_url_passwords() {
        let mut r = Redactor::new(&["s3cret-pw".into(), "ab".into()]);
        r.add_credential("Bearer tok-123456");
        assert_eq!(
            r.redact("pw s3cret-pw, header Bearer tok-123456, token tok-123456, ab"),
            "pw ***, header ***, token ***, ab"
        );
        let url = reqwest::Url::parse("https://user:hunter22@x.test/a?key=s3cret-pw").unwrap();
        assert_eq!(r.url(&url), "https://user:***@x.test/a?key=***");
        assert!(is_credential_header("AUTHORIZATION"));
        assert!(!is_credential_header("accept"));
    }
}
