//! Who is calling: the session token from the `session` cookie (set by the login) or from an
//! `Authorization: Bearer` header, and the signed-in user it belongs to.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use crate::state::{Shop, ShopError, User};

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "session";

/// A request from a signed-in user; extracting it answers 401 for everyone else.
pub(crate) struct SignedIn {
    /// The session token.
    pub token: String,
    /// Its user.
    pub user: User,
}

impl FromRequestParts<Arc<Shop>> for SignedIn {
    type Rejection = ShopError;

    async fn from_request_parts(
        parts: &mut Parts,
        shop: &Arc<Shop>,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(ShopError::Unauthenticated)?;
        let user = shop.session_user(&token)?;
        Ok(SignedIn { token, user })
    }
}

/// The token of the request's session, if it names one.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let cookie = || {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .map(|(_, value)| value.trim())
    };
    bearer
        .or_else(cookie)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_session_cookie() {
        assert_eq!(
            session_token(&headers(&[("authorization", "Bearer abc")])).as_deref(),
            Some("abc")
        );
        assert_eq!(
            session_token(&headers(&[("cookie", "theme=dark; session=xyz; other=1")])).as_deref(),
            Some("xyz")
        );
        assert_eq!(
            session_token(&headers(&[("cookie", "a=1"), ("cookie", "session=q")])).as_deref(),
            Some("q")
        );
        assert_eq!(session_token(&headers(&[("cookie", "sessions=no")])), None);
        assert_eq!(session_token(&headers(&[("cookie", "session=")])), None);
        assert_eq!(session_token(&HeaderMap::new()), None);
    }
}
