//! Credentials: API tokens, dashboard users and their sessions. Secrets come in plain and are
//! hashed here before anything is written, so the database only ever holds hashes: SHA-256
//! of high-entropy random values (tokens, session ids, CSRF tokens) and Argon2id of
//! passwords. Lookups go by hash, so a stored row never helps to log in.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
use wfmon_model::{ApiToken, DashboardSession, DashboardUser, Record, Role, Timestamp, new_id};

use crate::records::select_sql;
use crate::{Store, StoreError};

/// Every API token starts with this, so that a leaked one is recognisable (secret scanners,
/// logs) and a token is never confused with a session id.
pub const TOKEN_PREFIX: &str = "wfm_";

/// The shortest password a dashboard user may have.
pub const MIN_PASSWORD_LEN: usize = 12;

/// The longest name of a token or user.
const MAX_NAME_LEN: usize = 64;

/// `last_used_at` and `last_seen_at` are written at most this often per token or session,
/// so that reads do not turn into a write each.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A token as created: the record (as stored) and the token itself, shown once.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The stored row (holds only the token's hash).
    pub record: ApiToken,
    /// The token; not stored anywhere.
    pub token: String,
}

/// A session as created at login, or found again from its id.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The stored row (holds only hashes).
    pub record: DashboardSession,
    /// The session id: the cookie's value.
    pub session_id: String,
    /// The token state-changing requests of this session must carry (`X-CSRF-Token`).
    pub csrf_token: String,
}

/// What `revoke_token` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Revocation {
    /// The token is revoked from now on.
    Revoked(ApiToken),
    /// It was revoked before.
    AlreadyRevoked(ApiToken),
    /// No token has that id or name.
    NotFound,
}

/// Hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 random bytes from the thread's cryptographic generator, as 64 hex digits.
fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The CSRF token of a session, derived from its id: only the holder of the cookie can know
/// it, and it needs no storage of its own.
fn csrf_token_of(session_id: &str) -> String {
    sha256_hex(&format!("wfmon csrf token\0{session_id}"))
}

/// Checks the name of a token or user: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    let fine = !name.is_empty()
        && name.chars().count() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if fine {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} `{}` is not valid: use 1 to {MAX_NAME_LEN} letters, digits, `.`, `_`, `-` \
             or `@`",
            name.chars().take(MAX_NAME_LEN + 1).collect::<String>()
        )))
    }
}

/// Checks a new password's length (in characters).
pub fn check_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "the password is too short: at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

/// Argon2id (the crate's default parameters) of `password` with a fresh random salt, in
/// PHC string form. Slow on purpose; runs on a blocking thread.
async fn hash_password(password: &str) -> Result<String, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| StoreError::Invalid(format!("cannot make a password salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("password hashing stopped: {e}")))?
}

/// Whether `password` matches the PHC string `hash` (the comparison is constant-time).
async fn password_matches(hash: String, password: &str) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash no password matches, verified for unknown users so that a login takes as long
/// whether or not the user exists.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("a fixed salt");
        Argon2::default()
            .hash_password(random_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

impl Store {
    /// Creates an API token named `name` with `role`, valid until `expires_at` (or until
    /// revoked). The token is returned once; only its hash is stored.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        expires_at: Option<Timestamp>,
    ) -> Result<NewToken, StoreError> {
        check_name("token name", name)?;
        if self.find_token(name).await?.is_some() {
            return Err(StoreError::Duplicate {
                what: "token",
                key: name.to_owned(),
            });
        }
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        let record = ApiToken {
            id: new_id("tok"),
            token_id: new_id("tok"),
            name: name.to_owned(),
            role,
            token_hash: sha256_hex(&token),
            created_at: Timestamp::now(),
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        self.insert(std::slice::from_ref(&record)).await?;
        Ok(NewToken { record, token })
    }

    /// Every token, oldest first (revoked and expired ones too).
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!("{} ORDER BY created_at, token_id", select_sql::<ApiToken>());
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, ApiToken>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing API tokens"))
        })
    }

    /// The token whose id or name is `id_or_name`.
    pub async fn find_token(&self, id_or_name: &str) -> Result<Option<ApiToken>, StoreError> {
        let sql = format!(
            "{} WHERE token_id = $1 OR name = $1",
            select_sql::<ApiToken>()
        );
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, ApiToken>(AssertSqlSafe(sql))
                .bind(id_or_name)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(format!("reading API token {id_or_name}")))
        })
    }

    /// Revokes the token whose id or name is `id_or_name`; it is refused from now on.
    pub async fn revoke_token(&self, id_or_name: &str) -> Result<Revocation, StoreError> {
        let Some(found) = self.find_token(id_or_name).await? else {
            return Ok(Revocation::NotFound);
        };
        if found.revoked_at.is_some() {
            return Ok(Revocation::AlreadyRevoked(found));
        }
        let now = Timestamp::now();
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE api_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&found.token_id)
            .execute(pool)
            .await
            .map_err(StoreError::query(format!("revoking API token {}", found.name)))?;
        });
        Ok(Revocation::Revoked(ApiToken {
            revoked_at: Some(now),
            ..found
        }))
    }

    /// The token `token` if it is known, not revoked and not expired at `now`; notes its use.
    pub async fn authenticate_token(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<ApiToken>, StoreError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let sql = format!("{} WHERE token_hash = $1", select_sql::<ApiToken>());
        let hash = sha256_hex(token);
        let found = dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, ApiToken>(AssertSqlSafe(sql))
                .bind(&hash)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query("looking up an API token"))?
        });
        let Some(found) = found else { return Ok(None) };
        if found.revoked_at.is_some() || found.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let stale = found
            .last_used_at
            .is_none_or(|at| at <= now.minus(TOUCH_EVERY));
        if stale {
            dispatch!(self, pool, Db => {
                sqlx::query::<Db>("UPDATE api_tokens SET last_used_at = $1 WHERE token_id = $2")
                    .bind(now)
                    .bind(&found.token_id)
                    .execute(pool)
                    .await
                    .map_err(StoreError::query(format!("noting the use of API token {}", found.name)))?;
            });
        }
        Ok(Some(found))
    }

    /// Adds a dashboard user. Refuses a bad or taken name and a short password, changing
    /// nothing.
    pub async fn add_user(
        &self,
        username: &str,
        role: Role,
        password: &str,
    ) -> Result<DashboardUser, StoreError> {
        check_name("username", username)?;
        check_password(password)?;
        if self.get::<DashboardUser>(username).await?.is_some() {
            return Err(StoreError::Duplicate {
                what: "user",
                key: username.to_owned(),
            });
        }
        let now = Timestamp::now();
        let user = DashboardUser {
            id: new_id("usr"),
            username: username.to_owned(),
            role,
            password_hash: hash_password(password).await?,
            created_at: now,
            password_changed_at: now,
        };
        self.insert(std::slice::from_ref(&user)).await?;
        Ok(user)
    }

    /// Every dashboard user, by name.
    pub async fn list_users(&self) -> Result<Vec<DashboardUser>, StoreError> {
        let sql = format!("{} ORDER BY username", select_sql::<DashboardUser>());
        dispatch!(self, pool, Db => {
            sqlx::query_as::<Db, DashboardUser>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .map_err(StoreError::query("listing dashboard users"))
        })
    }

    /// Removes a user and ends their sessions. Returns whether the user existed.
    pub async fn remove_user(&self, username: &str) -> Result<bool, StoreError> {
        self.end_sessions_of(username).await?;
        self.delete::<DashboardUser>(username).await
    }

    /// Sets a user's password and ends their sessions. Returns whether the user exists.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<bool, StoreError> {
        check_password(password)?;
        if self.get::<DashboardUser>(username).await?.is_none() {
            return Ok(false);
        }
        let hash = hash_password(password).await?;
        dispatch!(self, pool, Db => {
            sqlx::query::<Db>(
                "UPDATE dashboard_users SET password_hash = $1, password_changed_at = $2 \
                 WHERE username = $3",
            )
            .bind(&hash)
            .bind(Timestamp::now())
            .bind(username)
            .execute(pool)
            .await
            .map_err(StoreError::query(format!("setting the password of user {username}")))?;
        });
        self.end_sessions_of(username).await?;
        Ok(true)
    }

    /// The user if `password` is theirs. An unknown user costs the same time as a wrong
    /// password, and both give `None`.
    pub async fn verify_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<DashboardUser>, StoreError> {
        let user = if check_name("username", username).is_ok() {
            self.get::<DashboardUser>(username).await?
        } else {
            None
        };
        match user {
            Some(user) => {
                let matches = password_matches(user.password_hash.clone(), password).await;
                Ok(matches.then_some(user))
            }
            None => {
                password_matches(decoy_hash().to_owned(), password).await;
                Ok(None)
            }
        }
    }

    /// Whether anyone can log in or call the API: a user, or a token not revoked.
    pub async fn has_credentials(&self) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let users = self.count::<DashboardUser>().await?;
        if users > 0 {
            return Ok(true);
        }
        Ok(self
            .list_tokens()
            .await?
            .iter()
            .any(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now)))
    }

    /// Opens a session for `user`, valid for `lifetime`.
    pub async fn create_session(
        &self,
        user: &DashboardUser,
        lifetime: chrono::TimeDelta,
    ) -> Result<SessionGrant, StoreError> {
        let session_id = random_secret();
        let csrf_token = csrf_token_of(&session_id);
        let now = Timestamp::now();
        let record = DashboardSession {
            id: new_id("ses"),
            session_hash: sha256_hex(&session_id),
            username: user.username.clone(),
            role: user.role,
            csrf_hash: sha256_hex(&csrf_token),
            created_at: now,
            expires_at: now.plus(lifetime),
            last_seen_at: now,
        };
        self.insert(std::slice::from_ref(&record)).await?;
        Ok(SessionGrant {
            record,
            session_id,
            csrf_token,
        })
    }

    /// The session whose id is `session_id`, if it exists and has not expired at `now`;
    /// notes that it was seen.
    pub async fn find_session(
        &self,
        session_id: &str,
        now: Timestamp,
    ) -> Result<Option<SessionGrant>, StoreError> {
        let hash = sha256_hex(session_id);
        let Some(record) = self.get::<DashboardSession>(&hash).await? else {
            return Ok(None);
        };
        if record.expires_at <= now {
            self.delete::<DashboardSession>(&hash).await?;
            return Ok(None);
        }
        if record.last_seen_at <= now.minus(TOUCH_EVERY) {
            dispatch!(self, pool, Db => {
                sqlx::query::<Db>("UPDATE dashboard_sessions SET last_seen_at = $1 WHERE session_hash = $2")
                    .bind(now)
                    .bind(&hash)
                    .execute(pool)
                    .await
                    .map_err(StoreError::query("noting the use of a session"))?;
            });
        }
        Ok(Some(SessionGrant {
            record,
            session_id: session_id.to_owned(),
            csrf_token: csrf_token_of(session_id),
        }))
    }

    /// Ends the session whose id is `session_id` (logout). Returns whether it existed.
    pub async fn end_session(&self, session_id: &str) -> Result<bool, StoreError> {
        self.delete::<DashboardSession>(&sha256_hex(session_id))
            .await
    }

    /// Deletes the sessions that expired before `now` (the daemon does it periodically, so
    /// that a session never presented again does not stay); returns how many.
    pub async fn end_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {} WHERE expires_at <= $1",
            DashboardSession::TABLE
        );
        dispatch!(self, pool, Db => {
            let done = sqlx::query::<Db>(AssertSqlSafe(sql))
                .bind(now)
                .execute(pool)
                .await
                .map_err(StoreError::query("deleting expired sessions"))?;
            Ok(done.rows_affected())
        })
    }

    /// Ends every session of `username`.
    async fn end_sessions_of(&self, username: &str) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {} WHERE username = $1",
            DashboardSession::TABLE
        );
        dispatch!(self, pool, Db => {
            let done = sqlx::query::<Db>(AssertSqlSafe(sql))
                .bind(username)
                .execute(pool)
                .await
                .map_err(StoreError::query(format!("ending the sessions of user {username}")))?;
            Ok(done.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_named_in_the_error() {
        assert!(check_name("username", "alice.o-k_2@x").is_ok());
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let message = check_name("username", bad).unwrap_err().to_string();
            assert!(message.contains("username"), "{message}");
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_hashes_are_hex() {
        assert_ne!(csrf_token_of("a"), csrf_token_of("b"));
        let hash = sha256_hex("abc");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_secret().len(), 64);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough password").is_ok());
    }
}
