//! Extractors whose failures are `ApiError`s naming the field, never axum's plain-text
//! rejections: the query string (`Params`, read strictly: unknown or repeated parameters are
//! errors), a path segment (`PathParam`) and a JSON body (`JsonBody`).

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::json;
use wfmon_model::{Timestamp, UnknownValue};

use crate::error::{ApiError, echo};

/// The query string, each parameter at most once. Empty values count as absent.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("the query string cannot be read: {}", e.body_text()),
                )
            })?;
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if name.contains('\0') || value.contains('\0') {
                let name = name.replace('\0', "");
                return Err(ApiError::invalid_parameter(
                    &name,
                    format!("`{}` cannot hold NUL characters", echo(&name)),
                ));
            }
            if values.contains_key(&name) {
                return Err(ApiError::invalid_parameter(
                    &name,
                    format!("`{}` is given more than once", echo(&name)),
                ));
            }
            values.insert(name, value);
        }
        Ok(Params { values })
    }
}

impl Params {
    /// Parameters from pairs.
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// Refuses any parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<&Params, ApiError> {
        if let Some(name) = self.values.keys().find(|k| !allowed.contains(&k.as_str())) {
            let message = if allowed.is_empty() {
                format!(
                    "unknown parameter `{}`: this operation takes none",
                    echo(name)
                )
            } else {
                format!(
                    "unknown parameter `{}` (known: {})",
                    echo(name),
                    allowed.join(", ")
                )
            };
            return Err(ApiError::invalid_parameter(name, message)
                .with_details(json!({ "field": name, "allowed": allowed })));
        }
        Ok(self)
    }

    /// The text of a parameter; None when absent or empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A parameter read by `parse`; its error message names the parameter.
    pub fn parse_with<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|text| parse(text).map_err(|m| ApiError::invalid_parameter(name, m)))
            .transpose()
    }

    /// A value of a closed set (status, type), read leniently like the stored columns.
    pub fn one_of<T: FromStr<Err = UnknownValue>>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        self.parse_with(name, |text| {
            text.parse::<T>().map_err(|e| {
                format!(
                    "`{name}`: `{}` is not a valid {} (expected one of: {})",
                    echo(&e.value),
                    e.what,
                    e.expected
                )
            })
        })
    }

    /// A page size from 1 to `max`, `default` when absent.
    pub fn limit(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        Ok(self
            .parse_with(name, |text| match text.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "`{name}` must be a whole number from 1 to {max}, not `{}`",
                    echo(text)
                )),
            })?
            .unwrap_or(default))
    }

    /// An instant: RFC 3339 (`2026-01-02T03:04:05Z`), or an age such as `24h` or `30m`
    /// meaning that long before `now`.
    pub fn instant(&self, name: &str, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
        self.parse_with(name, |text| {
            parse_instant(text, now).map_err(|m| format!("`{name}`: {m}"))
        })
    }
}

/// Reads an RFC 3339 time, a date (midnight UTC) or an age before `now` (`90s`, `30m`,
/// `24h`, `7d`), as every command does (`wfmon_model::parse_instant`).
pub fn parse_instant(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    wfmon_model::parse_instant(text, now).map_err(|e| format!("`{}` {e}", echo(text)))
}

/// Whether both backends can store and compare `at` (years 1 to 9999).
pub fn in_range(at: Timestamp) -> bool {
    wfmon_model::in_year_range(at)
}

/// One path segment, percent-decoded; an undecodable one is a 400 naming it.
#[derive(Debug, Clone)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathParam, ApiError> {
        let Path(value) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    format!("the path cannot be read: {}", e.body_text()),
                )
            })?;
        if value.contains('\0') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_path",
                "the path cannot hold NUL characters",
            ));
        }
        Ok(PathParam(value))
    }
}

/// A JSON body read into `T`. An empty body is `T::default()` (every field optional); a body
/// that is not JSON is a 400, one that does not fit `T` a 422 naming the field.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                "invalid_body",
                format!("the body cannot be read: {}", e.body_text()),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        match content_type.as_deref() {
            Some("application/json") => {}
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("the body is `{}`; send application/json", echo(other)),
                ));
            }
            None => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body has no Content-Type; send application/json",
                ));
            }
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// What kind of JSON value `value` is, with its article.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reads a JSON object into `T`: syntax errors are 400 `invalid_json`; a body that is not an
/// object, and type and field errors, 422 `invalid_body` with the path of the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object. serde would also read an array into a struct (field by
    // position), and its errors then name the Rust type it wanted ("expected struct
    // RunRequest"): what the body is is checked first. Bodies are small; reading one twice
    // costs nothing worth keeping a second rule for.
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) if !value.is_object() => {
            return Err(ApiError::invalid_body(
                "",
                format!("the body must be a JSON object, not {}", json_kind(&value)),
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(not_json(&e)),
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            return not_json(&inner);
        }
        if path == "." {
            ApiError::invalid_body("", format!("the body does not fit: {inner}"))
        } else {
            ApiError::invalid_body(&path, format!("`{path}`: {inner}"))
        }
    })?;
    deserializer.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

fn not_json(error: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!("the body is not valid JSON: {error}"),
    )
    .with_details(json!({ "line": error.line(), "column": error.column() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        environment: Option<String>,
    }

    #[test]
    fn json_errors_tell_syntax_from_shape() {
        let syntax = parse_json::<Body>(b"{\"environment\": ").unwrap_err();
        assert_eq!(
            (syntax.status, syntax.code),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        let shape = parse_json::<Body>(b"{\"environment\": 3}").unwrap_err();
        assert_eq!(shape.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(shape.details["field"], "environment");
        let unknown = parse_json::<Body>(b"{\"env\": \"x\"}").unwrap_err();
        assert!(unknown.message.contains("env"), "{}", unknown.message);
        let trailing = parse_json::<Body>(b"{} x").unwrap_err();
        assert_eq!(trailing.code, "invalid_json");
    }

    #[test]
    fn instants_are_times_or_ages() {
        let now = Timestamp::parse("2026-01-02T03:04:05.000Z").unwrap();
        assert_eq!(
            parse_instant("24h", now).unwrap().to_string(),
            "2026-01-01T03:04:05.000Z"
        );
        assert_eq!(
            parse_instant("2026-01-01T00:00:00+01:00", now)
                .unwrap()
                .to_string(),
            "2025-12-31T23:00:00.000Z"
        );
        assert!(parse_instant("notatime", now).is_err());
        assert!(parse_instant("12", now).is_err());
    }

    #[test]
    fn limits_are_bounded_and_name_the_field() {
        let params = Params::from_pairs([("limit", "abc")]);
        let error = params.limit("limit", 50, 500).unwrap_err();
        assert_eq!(error.details["field"], "limit");
        assert_eq!(Params::default().limit("limit", 50, 500).unwrap(), 50);
        assert!(
            Params::from_pairs([("limit", "501")])
                .limit("limit", 50, 500)
                .is_err()
        );
        assert!(
            Params::from_pairs([("limit", "0")])
                .limit("limit", 50, 500)
                .is_err()
        );
    }
}
