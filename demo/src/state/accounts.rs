//! Accounts and sessions: sign-up, sign-in, sign-out, and deleting one's own account.

use std::hash::{BuildHasher, RandomState};
use std::time::Instant;

use serde::Deserialize;

use super::{Kind, Role, SESSION_TTL, Session, Shop, ShopError, User, required};

/// A sign-up, as posted.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Registration {
    pub email: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

/// A plausible email address: one `@`, a name before it, a dotted domain after it.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Shop {
    /// The password as kept: a hash keyed with the shop's random keys, salted with the email.
    fn password_hash(&self, email: &str, password: &str) -> u64 {
        self.keys.hash_one((email, password))
    }

    /// An unguessable session token: 128 bits from two independently keyed hashes.
    fn new_token(&self, n: u64) -> String {
        let a = self.keys.hash_one((n, Instant::now()));
        let b = RandomState::new().hash_one(n);
        format!("{a:016x}{b:016x}")
    }

    /// Creates an account.
    pub(crate) fn register(&self, r: &Registration) -> Result<User, ShopError> {
        let email = required(r.email.as_deref(), "email", 254)?.to_ascii_lowercase();
        if !valid_email(&email) {
            return Err(ShopError::Invalid(format!(
                "`{email}` is not a valid email address"
            )));
        }
        let password = r.password.as_deref().unwrap_or_default();
        if password.is_empty() {
            return Err(ShopError::Invalid("password is required".into()));
        }
        if password.chars().count() < 8 {
            return Err(ShopError::Invalid(
                "password must be at least 8 characters".into(),
            ));
        }
        let name = required(r.name.as_deref(), "name", 100)?;
        let role = match r.role.as_deref() {
            None => Role::Customer,
            Some(text) => Role::parse(text).ok_or_else(|| {
                ShopError::Invalid(format!("`{text}` is not a role: write farmer or customer"))
            })?,
        };
        let hash = self.password_hash(&email, password);
        let mut data = self.data();
        if data.users.values().any(|u| u.email == email) {
            return Err(ShopError::Conflict(format!(
                "an account for `{email}` already exists"
            )));
        }
        let id = data.next_id();
        let user = User {
            id,
            email,
            name,
            role,
            password: hash,
        };
        data.users.insert(id, user.clone());
        Ok(user)
    }

    /// Signs in; returns the new session's token and the user.
    pub(crate) fn login(&self, email: &str, password: &str) -> Result<(String, User), ShopError> {
        let email = email.trim().to_ascii_lowercase();
        let hash = self.password_hash(&email, password);
        let mut data = self.data();
        let user = data
            .users
            .values()
            .find(|u| u.email == email && u.password == hash)
            .cloned()
            .ok_or(ShopError::BadCredentials)?;
        data.sessions
            .retain(|_, s| s.started.elapsed() < SESSION_TTL);
        let n = data.next_id();
        let token = self.new_token(n);
        data.sessions.insert(
            token.clone(),
            Session {
                user: user.id,
                cart: Vec::new(),
                started: Instant::now(),
            },
        );
        Ok((token, user))
    }

    /// Ends a session (nothing happens for an unknown token).
    pub(crate) fn logout(&self, token: &str) {
        self.data().sessions.remove(token);
    }

    /// The user a session token belongs to.
    pub(crate) fn session_user(&self, token: &str) -> Result<User, ShopError> {
        let mut data = self.data();
        let user = data.session(token)?.user;
        data.users
            .get(&user)
            .cloned()
            .ok_or(ShopError::Unauthenticated)
    }

    /// Deletes the caller's own account, with its sessions, farms and products.
    pub(crate) fn delete_user(&self, caller: &User, id: &str) -> Result<(), ShopError> {
        let n = Kind::User.parse(id)?;
        if n != caller.id {
            return Err(ShopError::Forbidden(
                "you can only delete your own account".into(),
            ));
        }
        let mut data = self.data();
        data.users.remove(&n);
        data.sessions.retain(|_, s| s.user != n);
        let farms: Vec<u64> = data
            .farms
            .values()
            .filter(|f| f.owner == n)
            .map(|f| f.id)
            .collect();
        let products: Vec<u64> = data
            .products
            .values()
            .filter(|p| farms.contains(&p.farm))
            .map(|p| p.id)
            .collect();
        data.remove_products(&products);
        data.farms.retain(|id, _| !farms.contains(id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{registration, shop};

    #[test]
    fn email_addresses_are_checked() {
        for good in [
            "a@b.co",
            "first.last+tag@example.com",
            "run_01ab@example.com",
        ] {
            assert!(valid_email(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@.com",
            "a@b.",
            "a@b..c",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn a_login_works_with_the_registered_password_only() {
        let shop = shop();
        shop.register(&registration("Ann@Example.com", "customer"))
            .unwrap();
        assert_eq!(
            shop.login("ann@example.com", "wrong-one").unwrap_err(),
            ShopError::BadCredentials
        );
        let (token, user) = shop.login(" ANN@example.com ", "long-enough").unwrap();
        assert_eq!(user.email, "ann@example.com");
        assert_eq!(shop.session_user(&token).unwrap().id, user.id);
        shop.logout(&token);
        assert_eq!(
            shop.session_user(&token).unwrap_err(),
            ShopError::Unauthenticated
        );
    }
}
