use super::*;

fn facts() -> Facts {
    let mut facts = Facts::default();
    facts.set("status", Value::Int(500));
    facts.set(
        "body",
        json_to_cel(&serde_json::json!({
            "user": {"role": "admin", "name": "Zoë"},
            "items": [1, 2],
            "ratio": 1.0,
            "token": "tok-secret-1"
        })),
    );
    facts.set(
        "headers",
        string_map([("content-type", "application/json")].into_iter()),
    );
    facts
}

fn one(expression: &str) -> AssertionOutcome {
    let mut redactor = Redactor::default();
    redactor.add("tok-secret-1");
    check_all(&[expression.to_owned()], &facts(), &redactor).remove(0)
}

#[test]
fn passing_assertions_carry_no_details() {
    for expr in [
        "status == 500",
        "body.user.role == 'admin' && size(body.items) == 2",
        "body.ratio == 1",
        "headers['content-type'].startsWith('application/json')",
        "status in [500, 503]",
    ] {
        let a = one(expr);
        assert!(a.passed, "{expr}: {a:?}");
        assert_eq!((a.expected, a.actual, a.error), (None, None, None));
    }
}

#[test]
fn a_failed_comparison_reports_both_sides() {
    let a = one("status == 200");
    assert!(!a.passed);
    assert_eq!(a.expected.as_deref(), Some("200"));
    assert_eq!(a.actual.as_deref(), Some("500"));
    assert_eq!(a.error, None);
    let a = one("body.user.role == \"farmer\"");
    assert_eq!(a.expected.as_deref(), Some("\"farmer\""));
    assert_eq!(a.actual.as_deref(), Some("\"admin\""));
    let a = one("status < 300");
    assert_eq!(
        (a.expected.as_deref(), a.actual.as_deref()),
        (Some("< 300"), Some("500"))
    );
    let a = one("body.items == [1]");
    assert_eq!(
        (a.expected.as_deref(), a.actual.as_deref()),
        (Some("[1]"), Some("[1, 2]"))
    );
}

#[test]
fn a_failed_conjunction_names_the_conjunct() {
    let a = one("body.user.name == 'Zoë' && (status >= 200 && status < 300) && true");
    assert!(!a.passed);
    assert_eq!(a.error.as_deref(), Some("`status < 300` is false"));
    assert_eq!(
        (a.expected.as_deref(), a.actual.as_deref()),
        (Some("< 300"), Some("500"))
    );
    let a = one("status == 500 && body.user.missing == 1");
    assert_eq!(
        a.error.as_deref(),
        Some("`body.user.missing == 1`: no such key `missing`")
    );
}

#[test]
fn evaluation_errors_are_failed_assertions() {
    let a = one("body.nope.deeper == 1");
    assert!(!a.passed);
    assert_eq!(a.error.as_deref(), Some("no such key `nope`"));
    let a = one("nothing == 1");
    let error = a.error.unwrap();
    assert!(
        error.starts_with("`nothing` is not defined here (defined: status, body, headers)"),
        "{error}"
    );
    let a = one("status");
    assert_eq!(
        a.error.as_deref(),
        Some("the expression gives a value of type int, not true or false")
    );
    let a = one("status ==");
    assert!(a.error.unwrap().starts_with("not a valid expression"));
    let a = one("body.user.role > 1");
    assert!(!a.passed);
    assert!(a.error.is_some());
}

#[test]
fn values_are_redacted_and_cut() {
    let a = one("body.token == 'x'");
    assert_eq!(a.actual.as_deref(), Some("\"***\""));
    let long = Value::from("x".repeat(1000).as_str());
    let shown = show(&long);
    assert!(shown.ends_with('…') && shown.chars().count() == MAX_SHOWN + 1);
}

#[test]
fn a_text_body_gets_a_hint() {
    let mut facts = Facts::default();
    facts.set("body", Value::from("<html>oops</html>"));
    facts.note("body", "the response body is not JSON".into());
    let a = check_all(
        &["body.user.role == 'x'".to_owned()],
        &facts,
        &Redactor::default(),
    )
    .remove(0);
    let error = a.error.unwrap();
    assert!(
        error.ends_with("(the response body is not JSON)"),
        "{error}"
    );
}
