//! JUnit XML reports (as written by Playwright, pytest, Maven, ...): each `<testcase>` becomes
//! a test of the run, failed if it holds `<failure>` or `<error>`, skipped with `<skipped>`.

use quick_xml::events::{BytesStart, Event};

use super::assertions::cut;
use super::outcome::TestCaseOutcome;

/// Longest failure message kept per test case (stack traces can be long).
const MAX_MESSAGE: usize = 2000;

/// The test cases of a report, in document order.
pub(crate) fn parse(xml: &str) -> Result<Vec<TestCaseOutcome>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut current: Option<TestCaseOutcome> = None;
    // Inside <failure>/<error>/<skipped> of the current case: collect its text.
    let mut in_result = false;
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not valid XML at byte {}: {e}", reader.error_position()))?;
        let (element, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = element {
            match local(e).as_str() {
                "testcase" => {
                    cases.extend(current.take());
                    current = Some(test_case(e)?);
                    if empty {
                        cases.extend(current.take());
                    }
                }
                kind @ ("failure" | "error" | "skipped") => {
                    if let Some(case) = current.as_mut() {
                        case.passed = false;
                        case.skipped |= kind == "skipped";
                        if case.message.is_none() {
                            case.message =
                                attribute(e, "message")?.filter(|m| !m.trim().is_empty());
                        }
                        in_result = !empty;
                        text.clear();
                    }
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Text(t) if in_result => text.push_str(&t.xml10_content()),
            Event::CData(t) if in_result => text.push_str(&t),
            Event::GeneralRef(r) if in_result => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_owned),
                };
                text.push_str(&resolved.unwrap_or_default());
            }
            Event::End(e) => {
                let name = e.local_name().into_inner().to_owned();
                match name.as_str() {
                    "failure" | "error" | "skipped" if in_result => {
                        in_result = false;
                        if let Some(case) = current.as_mut()
                            && case.message.is_none()
                            && !text.trim().is_empty()
                        {
                            case.message = Some(text.trim().to_owned());
                        }
                    }
                    "testcase" => cases.extend(current.take()),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    cases.extend(current.take());
    for case in &mut cases {
        case.message = case.message.as_deref().map(|m| cut(m, MAX_MESSAGE));
    }
    Ok(cases)
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().into_inner().to_owned()
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("bad attribute: {err}"))?;
        if attr.key.local_name().into_inner() == name {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("bad attribute `{name}`: {err}"))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn test_case(e: &BytesStart<'_>) -> Result<TestCaseOutcome, String> {
    let name = attribute(e, "name")?.unwrap_or_default();
    let duration_ms = attribute(e, "time")?
        .and_then(|t| t.trim().replace(',', "").parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).round() as u64);
    Ok(TestCaseOutcome {
        name,
        classname: attribute(e, "classname")?,
        passed: true,
        skipped: false,
        message: None,
        duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passed_failed_errored_and_skipped_cases() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="e2e" tests="5" failures="1" errors="1" skipped="1">
  <testsuite name="login.spec.ts" tests="5">
    <testcase name="logs in" classname="login.spec.ts" time="1.25"/>
    <testcase name="shows the farm" classname="login.spec.ts" time="0.5">
      <system-out>ok</system-out>
    </testcase>
    <testcase name="places an order" classname="order.spec.ts" time="2">
      <failure message="expected 3 items &amp; got 2" type="AssertionError">stack &lt;here&gt;</failure>
    </testcase>
    <testcase name="pays" classname="order.spec.ts"><error>Timeout &#x41;<![CDATA[ <raw> ]]></error></testcase>
    <testcase name="refunds"><skipped/></testcase>
  </testsuite>
</testsuites>"#;
        let cases = parse(xml).unwrap();
        let summary: Vec<(&str, bool, bool)> = cases
            .iter()
            .map(|c| (c.name.as_str(), c.passed, c.skipped))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("logs in", true, false),
                ("shows the farm", true, false),
                ("places an order", false, false),
                ("pays", false, false),
                ("refunds", false, true),
            ]
        );
        assert_eq!(cases[0].duration_ms, Some(1250));
        assert_eq!(cases[0].classname.as_deref(), Some("login.spec.ts"));
        assert_eq!(
            cases[2].message.as_deref(),
            Some("expected 3 items & got 2")
        );
        assert_eq!(cases[3].message.as_deref(), Some("Timeout A <raw>"));
        assert_eq!(cases[4].message, None);
        assert_eq!(cases[4].classname, None);
    }

    #[test]
    fn broken_xml_is_an_error_not_a_panic() {
        let err = parse("<testsuite><testcase name='a'></testsuite>").unwrap_err();
        assert!(err.contains("not valid XML"), "{err}");
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
