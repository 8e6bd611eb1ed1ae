//! Captures: values taken from a response (or a command's output) for later steps.
//! A capture that finds nothing is an error that names the capture and its source.

use crate::workflow::{Capture, CaptureSource};

/// What a capture reads from.
pub(crate) struct CaptureInput<'a> {
    /// The body (or standard output) as text.
    pub text: &'a str,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<&'a serde_json::Value>,
    /// Response headers (lower-case names), or `None` for a command step.
    pub headers: Option<&'a [(String, String)]>,
}

/// The captured value, or why there is none.
pub(crate) fn capture(capture: &Capture, input: &CaptureInput<'_>) -> Result<String, String> {
    let name = &capture.name;
    match &capture.source {
        CaptureSource::JsonPath(path) => {
            let json = input.json.ok_or_else(|| {
                format!("capture `{name}`: {path} needs a JSON body, and the body is not JSON")
            })?;
            let found = path
                .query(json)
                .first()
                .ok_or_else(|| format!("capture `{name}`: {path} matched nothing"))?;
            Ok(match found {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        }
        CaptureSource::Header(header) => {
            let headers = input.headers.ok_or_else(|| {
                format!("capture `{name}`: header:{header} needs an HTTP response")
            })?;
            headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(header))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("capture `{name}`: the response has no `{header}` header"))
        }
        CaptureSource::Regex(regex) => {
            let found = regex.captures(input.text).ok_or_else(|| {
                format!("capture `{name}`: regex:{} matched nothing", regex.as_str())
            })?;
            Ok(found
                .get(1)
                .or_else(|| found.get(0))
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(name: &str, source: CaptureSource) -> Capture {
        Capture {
            name: name.into(),
            source,
        }
    }

    #[test]
    fn json_path_header_and_regex_captures() {
        let json = serde_json::json!({"token": "t-1", "user": {"id": 7, "tags": ["a"]}});
        let headers = vec![("set-cookie".to_owned(), "sid=1; Path=/".to_owned())];
        let input = CaptureInput {
            text: "id=42 name=x",
            json: Some(&json),
            headers: Some(&headers),
        };
        let path = |p: &str| CaptureSource::JsonPath(serde_json_path::JsonPath::parse(p).unwrap());
        assert_eq!(capture(&cap("t", path("$.token")), &input).unwrap(), "t-1");
        assert_eq!(capture(&cap("i", path("$.user.id")), &input).unwrap(), "7");
        assert_eq!(
            capture(&cap("g", path("$.user.tags")), &input).unwrap(),
            r#"["a"]"#
        );
        assert_eq!(
            capture(&cap("x", path("$.nope")), &input).unwrap_err(),
            "capture `x`: $.nope matched nothing"
        );
        let header = CaptureSource::Header("set-cookie".into());
        assert_eq!(capture(&cap("s", header), &input).unwrap(), "sid=1; Path=/");
        assert_eq!(
            capture(&cap("s", CaptureSource::Header("etag".into())), &input).unwrap_err(),
            "capture `s`: the response has no `etag` header"
        );
        let re = |p: &str| CaptureSource::Regex(regex::Regex::new(p).unwrap());
        assert_eq!(capture(&cap("r", re(r"id=(\d+)")), &input).unwrap(), "42");
        assert_eq!(
            capture(&cap("r", re(r"name=\w")), &input).unwrap(),
            "name=x"
        );
        assert_eq!(
            capture(&cap("r", re(r"zzz")), &input).unwrap_err(),
            "capture `r`: regex:zzz matched nothing"
        );
        let text_only = CaptureInput {
            text: "<html>",
            json: None,
            headers: None,
        };
        assert_eq!(
            capture(&cap("t", path("$.token")), &text_only).unwrap_err(),
            "capture `t`: $.token needs a JSON body, and the body is not JSON"
        );
    }
}
