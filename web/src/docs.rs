//! The documents: `GET /api/openapi.json` and `GET /api/docs`, a small page listing the
//! operations of that document (rendered here, every text HTML-escaped) with its own script
//! (`/api/docs/docs.js`, no third-party code) to try the GET operations in the browser.

use axum::Json;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::Params;
use crate::openapi;

const SCRIPT: &str = include_str!("../assets/docs.js");

/// The page may run its own script only and talk only to this server.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                           style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
                           frame-ancestors 'none'";

/// `GET /api/openapi.json`
pub async fn openapi_json(params: Params) -> Result<Json<Value>, ApiError> {
    params.only(&[])?;
    Ok(Json(openapi::document()))
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page, from the document.
pub fn page(document: &Value) -> String {
    let title = document["info"]["title"].as_str().unwrap_or("API");
    let version = document["info"]["version"].as_str().unwrap_or_default();
    let mut rows = String::new();
    for (method, path, summary) in openapi::operations(document) {
        let op = &document["paths"][&path][method.to_ascii_lowercase()];
        let description = op["description"].as_str().unwrap_or_default();
        let parameters: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let name = p["name"].as_str().unwrap_or_default();
                let place = p["in"].as_str().unwrap_or_default();
                format!("<code>{}</code> ({})", escape(name), escape(place))
            })
            .collect();
        rows.push_str(&format!(
            "<li class=\"op\" data-method=\"{m}\" data-path=\"{p}\"><p><b class=\"method\">{m}</b> \
             <code class=\"path\">{p}</code> <span>{s}</span></p><p class=\"description\">{d}</p>{params}</li>\n",
            m = escape(&method),
            p = escape(&path),
            s = escape(&summary),
            d = escape(description),
            params = if parameters.is_empty() {
                String::new()
            } else {
                format!("<p class=\"params\">Parameters: {}</p>", parameters.join(", "))
            },
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         li.op{{list-style:none;border-top:1px solid #ddd;padding:.5rem 0}}\
         .method{{display:inline-block;min-width:4rem}} .description{{color:#555;margin:.2rem 0}}\
         pre{{background:#f4f4f4;padding:.5rem;overflow:auto;max-height:24rem}}\
         </style></head><body><h1>{t} <small>{v}</small></h1>\
         <p>The machine-readable description is <a href=\"/api/openapi.json\">/api/openapi.json</a>. \
         Every error is JSON <code>{{\"error\", \"message\", \"details\"}}</code>.</p>\
         <ul id=\"operations\">\n{rows}</ul>\
         <script src=\"/api/docs/docs.js\"></script></body></html>\n",
        t = escape(title),
        v = escape(version),
    )
}

/// `GET /api/docs`
pub async fn docs(params: Params) -> Result<Response, ApiError> {
    params.only(&[])?;
    let mut response = Html(page(&openapi::document())).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(PAGE_POLICY),
    );
    Ok(response)
}

/// `GET /api/docs/docs.js`
pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let document = serde_json::json!({
            "info": {"title": "<script>alert(1)</script>", "version": "1\"2"},
            "paths": {"/x/<b>": {"get": {"summary": "a & b", "description": "<img src=x onerror=alert(1)>",
                "parameters": [{"name": "q\"><svg>", "in": "query"}]}}},
        });
        let html = page(&document);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<svg>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("q&quot;&gt;&lt;svg&gt;"));
    }
}
