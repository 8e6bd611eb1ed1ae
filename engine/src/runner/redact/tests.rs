use super::*;

/// Secrets with the characters that encodings change: URL delimiters, `+`, `=`, space, `&`,
/// quotes, backslash, control characters and non-ASCII text.
const AWKWARD: &[&str] = &[
    "dGhpcyBpcyBh/c2VjcmV0+a2V5==",
    "Sekret pass/ü&z=1",
    "k=\"q\" \\ 'x' `y` {z} <w> |^;@:[]",
    "tab\there, new\nline, €uro",
    "q?uery#frag%41",
];

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

/// A message cut short in the middle of a secret (assertion values are cut at 300
/// characters before they are redacted) does not show the secret's beginning; text before
/// the secret, and a cut elsewhere, are kept.
#[test]
fn hides_the_beginning_of_a_secret_cut_short() {
    let r = Redactor::new(&["tok-0123456789abcdef".into(), "Sekret pass/ü".into()]);
    let value = format!("{}tok-0123456789abcdef", "x".repeat(290));
    let cut = crate::runner::assertions::cut(&value, 300);
    assert!(cut.ends_with("xtok-012345…"), "{cut}");
    assert_eq!(r.redact(&cut), format!("{}***…", "x".repeat(290)));
    // Encoded forms too: the query form of the second secret, cut inside its `%C3`.
    assert_eq!(r.redact("?k=Sekret+pass%2F%C…"), "?k=***…");
    // Fewer than four bytes of a secret are not worth hiding; unrelated cuts are kept.
    assert_eq!(r.redact("id tok…"), "id tok…");
    assert_eq!(r.redact("plain text…"), "plain text…");
    assert_eq!(
        r.redact("tok-0123456789abcdef, then tok-0123…"),
        "***, then ***…"
    );
}

/// Each secret written where a step can put it, sent through the HTTP client as a step sends
/// it, and read back from the request: nothing of it is left once redacted.
#[test]
fn hides_every_form_the_http_client_sends() {
    let client = reqwest::Client::new();
    for secret in AWKWARD {
        let r = Redactor::new(&[(*secret).to_owned()]);
        let shown = |url: &reqwest::Url| r.redact(url.as_str());
        let parse = |text: String| reqwest::Url::parse(&text).unwrap();

        assert_eq!(
            shown(&parse(format!("http://h.test/p/{secret}"))),
            "http://h.test/p/***",
            "{secret:?} in the path"
        );
        assert_eq!(
            shown(&parse(format!("http://h.test/p?k={secret}"))),
            "http://h.test/p?k=***",
            "{secret:?} in the query"
        );
        assert_eq!(
            shown(&parse(format!("http://h.test/p#{secret}"))),
            "http://h.test/p#***",
            "{secret:?} in the fragment"
        );

        let query = client
            .get("http://h.test/p")
            .query(&[("k", secret)])
            .build()
            .unwrap();
        assert_eq!(shown(query.url()), "http://h.test/p?k=***", "{secret:?}");

        let body = |request: reqwest::Request| {
            let bytes = request.body().and_then(|b| b.as_bytes()).unwrap().to_vec();
            String::from_utf8(bytes).unwrap()
        };
        let form = client
            .post("http://h.test/p")
            .form(&[("k", secret)])
            .build()
            .unwrap();
        assert_eq!(r.redact(&body(form)), "k=***", "{secret:?} in a form");

        let json = client
            .post("http://h.test/p")
            .json(&serde_json::json!({ "k": secret }))
            .build()
            .unwrap();
        let json = body(json);
        assert_eq!(r.redact(&json), r#"{"k":"***"}"#, "{secret:?} in JSON");
        // As a message quotes a body that came back.
        let quoted = serde_json::to_string(&json).unwrap();
        assert_eq!(r.redact(&quoted), r#""{\"k\":\"***\"}""#, "{secret:?}");
        // As a message quotes a request line that came back.
        let line = serde_json::to_string(&format!("GET {}", query.url())).unwrap();
        assert_eq!(r.redact(&line), "\"GET http://h.test/p?k=***\"");
    }
}

#[test]
fn hides_a_user_name_in_a_url() {
    let secret = "sk live/key=1 ü";
    let r = Redactor::new(&[secret.to_owned()]);
    let mut url = reqwest::Url::parse("https://api.test/v1").unwrap();
    url.set_username(secret).unwrap();
    assert_ne!(url.username(), secret, "the URL encodes it");
    assert_eq!(r.url(&url), "https://***@api.test/v1");
}

#[test]
fn values_added_during_a_run_are_hidden_in_every_form_too() {
    let mut r = Redactor::default();
    r.add("captured token/1");
    r.add_credential("Bearer a+b=c/d");
    assert_eq!(
        r.redact("?t=captured+token%2F1&u=captured%20token/1&a=a%2Bb%3Dc%2Fd"),
        "?t=***&u=***&a=***"
    );
}

#[test]
fn short_values_are_left_alone_in_every_form() {
    let r = Redactor::new(&["a/b".into(), " x \n".into(), "ü".into()]);
    let text = "a/b a%2Fb x ü %C3%BC";
    assert_eq!(r.redact(text), text);
    // Four bytes are enough, whatever the characters.
    let r = Redactor::new(&["ü/é".into()]);
    assert_eq!(r.redact("?k=%C3%BC%2F%C3%A9 /%C3%BC/%C3%A9"), "?k=*** /***");
}

#[test]
fn a_longer_form_is_hidden_whole() {
    // The form encoding of `pass word` contains the other secret: it goes whole, never as
    // `pass+***`.
    let r = Redactor::new(&["word".into(), "pass word".into()]);
    assert_eq!(r.redact("a=pass+word&b=word&c=words"), "a=***&b=***&c=***s");
}

#[test]
fn the_forms_are_computed_once_and_never_shown() {
    let mut r = Redactor::new(&["dGhpcyBpcyBh/c2VjcmV0+a2V5==".into()]);
    // The value, its form encoding and its user-name encoding; the others are the same text.
    assert_eq!(r.forms.len(), 3, "{:?}", r.forms);
    r.add("dGhpcyBpcyBh/c2VjcmV0+a2V5==");
    assert_eq!(r.forms.len(), 3);
    let debug = format!("{r:?}");
    assert_eq!(debug, "Redactor { values: 1, forms: 3 }");
}
