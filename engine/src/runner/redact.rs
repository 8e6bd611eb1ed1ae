//! Keeps secrets out of every message: configuration secrets (`${ENV}` values), credential
//! header values and captured values are replaced with `***`.
//!
//! A value is hidden in the form it was given and in every form the engine itself turns it
//! into: percent-encoded as the URL parser writes it in a path, a query, a fragment or a user
//! name; form-encoded (space as `+`), as `query:` parameters and `form:` bodies are sent; and
//! escaped as inside a JSON string, as JSON bodies carry it and as messages quote values (once
//! more for a JSON body that comes back inside a quoted value). The forms are computed once,
//! when the value is added, so that redacting a message only searches for them.
//!
//! The runner keeps one redactor per run (captured values and credentials join it as the run
//! goes); `Config::redact` and the outbox sender keep one for the configuration's secrets.

use std::borrow::Cow;
use std::fmt;

/// Values to hide and all their forms.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// The values added (trimmed), to skip repeats.
    values: Vec<String>,
    /// Every form of every value, longest first so that a form containing another is hidden
    /// whole.
    forms: Vec<String>,
}

/// Shows how much it hides, never what.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .field("forms", &self.forms.len())
            .finish()
    }
}

/// Shorter values are left alone: hiding every `a` or `42` would make messages unreadable,
/// and such values are not secrets worth the name. The length is the value's, trimmed, in
/// bytes; its encoded forms are hidden whenever the value itself would be.
const MIN_SECRET_LEN: usize = 4;

/// What marks the place where a message was cut short.
const CUT_MARK: char = '…';

impl Redactor {
    /// A redactor for the configuration's secrets.
    pub(crate) fn new(secrets: &[String]) -> Redactor {
        let mut redactor = Redactor::default();
        for secret in secrets {
            redactor.add(secret);
        }
        redactor
    }

    /// Hides `value`, in all its forms, from now on.
    pub(crate) fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.len() < MIN_SECRET_LEN || self.values.iter().any(|v| v == value) {
            return;
        }
        self.values.push(value.to_owned());
        for form in forms(value) {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    /// Hides an Authorization-style header value: the whole value and its credential part
    /// (`Bearer abc` hides `Bearer abc` and `abc`).
    pub(crate) fn add_credential(&mut self, header_value: &str) {
        self.add(header_value);
        if let Some((_, credential)) = header_value.trim().split_once(char::is_whitespace) {
            self.add(credential);
        }
    }

    /// `text` with every form of every hidden value replaced by `***`; where a message was
    /// cut (`…`, see `assertions::cut`) right after the beginning of a form, that beginning
    /// too, so that a value cut short before it is redacted does not show its first part.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), "***"));
            }
        }
        if out.contains(CUT_MARK) {
            out = Cow::Owned(self.hide_cut_beginnings(&out));
        }
        out.into_owned()
    }

    /// `text` with the longest beginning of a form (at least `MIN_SECRET_LEN` bytes) that
    /// ends right before each `…` replaced by `***`.
    fn hide_cut_beginnings(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(CUT_MARK) {
            let before = &rest[..at];
            let longest = self
                .forms
                .iter()
                .filter_map(|form| {
                    (MIN_SECRET_LEN..form.len())
                        .rev()
                        .filter(|n| form.is_char_boundary(*n))
                        .find(|n| before.ends_with(&form[..*n]))
                })
                .max();
            match longest {
                Some(n) => {
                    out.push_str(&before[..before.len() - n]);
                    out.push_str("***");
                }
                None => out.push_str(before),
            }
            out.push(CUT_MARK);
            rest = &rest[at + CUT_MARK.len_utf8()..];
        }
        out.push_str(rest);
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

/// Every form in which the engine can send or show `value`, without repeats.
fn forms(value: &str) -> Vec<String> {
    let encoded = [
        value.to_owned(),
        form_encoded(value),
        in_url(value, UrlPart::Path),
        in_url(value, UrlPart::Query),
        in_url(value, UrlPart::Fragment),
        percent_encoded(
            value.chars().filter(|c| !is_tab_or_newline(*c)),
            in_userinfo_set,
        ),
    ];
    let mut forms = encoded.to_vec();
    // In a JSON body, and quoted in a message (an assertion's value, an echoed request).
    forms.extend(encoded.iter().map(|f| json_escaped(f)));
    // A JSON body echoed by the server and quoted in a message: escaped twice.
    forms.push(json_escaped(&json_escaped(value)));
    forms.sort();
    forms.dedup();
    forms
}

/// `value` as `application/x-www-form-urlencoded` writes it: ASCII letters, digits and
/// `*-._` as they are, space as `+`, every other byte as `%XX`.
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &byte in value.as_bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => push_percent(&mut out, byte),
        }
    }
    out
}

/// The part of an http(s) URL a value is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlPart {
    Path,
    Query,
    Fragment,
}

/// `value` as it reads once written into an http(s) URL at `part` and parsed (the WHATWG URL
/// rules the URL parser follows): tabs and line breaks dropped, `\` read as `/` in the path,
/// `?` starting the query and `#` the fragment, and each part percent-encoded with its own
/// set; `%` is kept as it is.
fn in_url(value: &str, start: UrlPart) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    let mut part = start;
    let mut buf = [0u8; 4];
    for c in value.chars() {
        match (c, part) {
            (c, _) if is_tab_or_newline(c) => continue,
            ('\\', UrlPart::Path) => out.push('/'),
            ('?', UrlPart::Path) => {
                part = UrlPart::Query;
                out.push('?');
            }
            ('#', UrlPart::Path | UrlPart::Query) => {
                part = UrlPart::Fragment;
                out.push('#');
            }
            (c, part) => {
                let encode = match part {
                    UrlPart::Path => in_path_set,
                    UrlPart::Query => in_special_query_set,
                    UrlPart::Fragment => in_fragment_set,
                };
                if c.is_ascii() && !encode(c as u8) {
                    out.push(c);
                } else {
                    for &byte in c.encode_utf8(&mut buf).as_bytes() {
                        push_percent(&mut out, byte);
                    }
                }
            }
        }
    }
    out
}

/// `chars` with those in `set` (and every non-ASCII one) as `%XX` of their UTF-8 bytes.
fn percent_encoded(chars: impl Iterator<Item = char>, set: fn(u8) -> bool) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 4];
    for c in chars {
        if c.is_ascii() && !set(c as u8) {
            out.push(c);
        } else {
            for &byte in c.encode_utf8(&mut buf).as_bytes() {
                push_percent(&mut out, byte);
            }
        }
    }
    out
}

fn push_percent(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xF)]));
}

/// The URL parser drops these wherever they are.
fn is_tab_or_newline(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
}

/// The URL standard's percent-encode sets (ASCII bytes; non-ASCII is always encoded).
fn in_c0_control_set(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7F
}

fn in_fragment_set(byte: u8) -> bool {
    in_c0_control_set(byte) || matches!(byte, b' ' | b'"' | b'<' | b'>' | b'`')
}

fn in_special_query_set(byte: u8) -> bool {
    in_c0_control_set(byte) || matches!(byte, b' ' | b'"' | b'#' | b'<' | b'>' | b'\'')
}

fn in_path_set(byte: u8) -> bool {
    in_fragment_set(byte) || matches!(byte, b'#' | b'?' | b'{' | b'}')
}

fn in_userinfo_set(byte: u8) -> bool {
    in_path_set(byte)
        || matches!(
            byte,
            b'/' | b':' | b';' | b'=' | b'@' | b'[' | b'\\' | b']' | b'^' | b'|'
        )
}

/// `value` as it reads inside a JSON string (without the quotes).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(value)
        .to_owned()
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
mod tests;
