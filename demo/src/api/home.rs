//! `GET /`: a plain HTML page listing the endpoints and the demo accounts, for a person who
//! opens the shop in a browser.

use axum::response::Html;

use crate::seed::{DEMO_ACCOUNTS, DEMO_FARM};

/// Every endpoint: method, path, what it does.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "GET",
        "/api/health",
        "health, with a database check (503 when degraded)",
    ),
    (
        "POST",
        "/api/auth/register",
        "sign up: {email, password, name, role}; 201",
    ),
    (
        "POST",
        "/api/auth/login",
        "sign in: {email, password}; sets the session cookie",
    ),
    ("GET", "/api/auth/me", "the signed-in user"),
    ("POST", "/api/auth/logout", "sign out; 204"),
    ("DELETE", "/api/users/{id}", "delete your own account; 204"),
    ("GET", "/api/farms", "every farm"),
    (
        "POST",
        "/api/farms",
        "create a farm (farmers): {name, location}; 201",
    ),
    ("GET", "/api/farms/{id}", "one farm with its products"),
    (
        "DELETE",
        "/api/farms/{id}",
        "delete your farm and its products; 204",
    ),
    (
        "POST",
        "/api/farms/{id}/products",
        "add a product to your farm: {name, price, stock}; 201",
    ),
    (
        "GET",
        "/api/products?search=&limit=",
        "list and search products: {items, total}",
    ),
    ("GET", "/api/products/{id}", "one product"),
    (
        "DELETE",
        "/api/products/{id}",
        "delete a product of your farm; 204",
    ),
    (
        "POST",
        "/api/cart/items",
        "add to your cart: {productId, quantity}; 201",
    ),
    ("GET", "/api/cart", "your cart"),
    (
        "POST",
        "/api/orders",
        "check the cart out; 201, or 409 when short of stock",
    ),
    ("GET", "/api/orders/{id}", "one of your orders"),
];

/// The page.
pub(crate) async fn page() -> Html<String> {
    let mut endpoints = String::new();
    for (method, path, what) in ENDPOINTS {
        endpoints.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
            escape(method),
            escape(path),
            escape(what)
        ));
    }
    let mut accounts = String::new();
    for a in DEMO_ACCOUNTS {
        accounts.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            escape(a.email),
            escape(a.password),
            escape(a.role),
            escape(a.name)
        ));
    }
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wfmon demo shop</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; }}
td, th {{ text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; vertical-align: top; }}
</style>
</head>
<body>
<h1>wfmon demo shop</h1>
<p>A small farm shop for wfmon to monitor. Everything lives in memory and is gone when it
stops. It answers in JSON; errors are <code>{{"error": "..."}}</code>. Now and then it
misbehaves on purpose: a slow product listing, a failed order, a degraded health check.</p>
<p>{farm} and its products are there from the start.</p>
<h2>Demo accounts</h2>
<table>
<tr><th>email</th><th>password</th><th>role</th><th>name</th></tr>
{accounts}</table>
<h2>Endpoints</h2>
<table>
{endpoints}</table>
</body>
</html>
"#,
        farm = escape(DEMO_FARM),
    ))
}

/// Text made safe inside HTML.
fn escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[tokio::test]
    async fn the_page_lists_every_endpoint_and_account() {
        let Html(page) = page().await;
        for (_, path, _) in ENDPOINTS {
            assert!(page.contains(&escape(path)), "{path}");
        }
        for a in DEMO_ACCOUNTS {
            assert!(page.contains(a.email) && page.contains(a.password));
        }
    }
}
