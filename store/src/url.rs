//! Database URLs: which backend, and how to print one without its password.

use std::fmt;

use crate::StoreError;

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file (the embedded default).
    Sqlite,
    /// PostgreSQL, shared by several instances.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A validated database URL: `sqlite://PATH` (a file) or `postgres://...`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses a URL, naming the accepted forms when the scheme is unknown.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, StoreError> {
        let raw = raw.trim();
        let backend = if raw.starts_with("sqlite:") {
            Backend::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl {
                url: redact(raw),
                reason: "expected sqlite://PATH or postgres://USER@HOST:PORT/DATABASE".into(),
            });
        };
        if backend == Backend::Sqlite {
            sqlite_file(raw).map_err(|reason| StoreError::BadUrl {
                url: redact(raw),
                reason: reason.into(),
            })?;
        }
        Ok(DatabaseUrl {
            raw: raw.to_owned(),
            backend,
        })
    }

    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as given (may hold a password: never print it; use `redacted`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    pub(crate) fn is_sqlite_read_only(&self) -> bool {
        self.backend == Backend::Sqlite && self.raw.contains("mode=ro")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Whether a `sqlite:` URL names a file, or why it does not: an empty path, or an in-memory
/// database (each connection of the pool would get its own, and nothing would be kept).
fn sqlite_file(raw: &str) -> Result<(), &'static str> {
    let rest = raw.strip_prefix("sqlite:").unwrap_or(raw);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return Err(
            "an in-memory SQLite database keeps nothing: name a file, as in sqlite://wfmon.db",
        );
    }
    if path.trim().is_empty() {
        return Err("no file named: write sqlite://PATH, as in sqlite://wfmon.db");
    }
    Ok(())
}

/// Replaces the password of `scheme://user:password@host` (and any `password=` parameter).
fn redact(raw: &str) -> String {
    let mut out = raw.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let start = scheme_end + 3 + colon + 1;
            out.replace_range(start..scheme_end + 3 + at, "***");
        }
    }
    if let Some(p) = out.find("password=") {
        let start = p + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_backends_and_rejects_other_schemes() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://wfmon.db").unwrap().backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        let err = DatabaseUrl::parse("mysql://root:pw@localhost/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite://"), "{err}");
        assert!(!err.contains("pw"), "{err}");
    }

    #[test]
    fn sqlite_urls_must_name_a_file() {
        for ok in [
            "sqlite://wfmon.db",
            "sqlite:wfmon.db",
            "sqlite:///var/lib/wfmon/wfmon.db?mode=ro",
        ] {
            assert!(DatabaseUrl::parse(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("sqlite://", "no file named"),
            ("sqlite:", "no file named"),
            ("sqlite://?mode=rwc", "no file named"),
            ("sqlite::memory:", "in-memory"),
            ("sqlite://x.db?mode=memory&cache=shared", "in-memory"),
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
            assert!(err.contains("sqlite://wfmon.db"), "{bad}: {err}");
        }
    }

    #[test]
    fn redacts_passwords() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cr%40t@db:5432/wfmon?sslmode=require").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db:5432/wfmon?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cr"));
        let url = DatabaseUrl::parse("postgres://db/wfmon?user=a&password=hunter2&x=1").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://db/wfmon?user=a&password=***&x=1"
        );
        let url = DatabaseUrl::parse("postgres://app@db/wfmon").unwrap();
        assert_eq!(url.redacted(), "postgres://app@db/wfmon");
    }
}
