-- Authentication: API tokens, dashboard users and their sessions. Tokens, passwords and
-- session ids are never stored: only a SHA-256 hash (tokens, session ids, CSRF tokens) or an
-- Argon2id hash (passwords).
CREATE TABLE api_tokens (
    id           TEXT NOT NULL PRIMARY KEY,
    token_id     TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    expires_at   TEXT,
    revoked_at   TEXT
);

CREATE TABLE dashboard_users (
    id                  TEXT NOT NULL PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    role                TEXT NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    password_hash       TEXT NOT NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    password_changed_at TEXT NOT NULL
);

CREATE TABLE dashboard_sessions (
    id           TEXT NOT NULL PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL REFERENCES dashboard_users (username) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    csrf_hash    TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX dashboard_sessions_username_idx ON dashboard_sessions (username);
CREATE INDEX dashboard_sessions_expires_at_idx ON dashboard_sessions (expires_at);
