-- Authentication: API tokens, dashboard users and their sessions. Tokens, passwords and
-- session ids are never stored: only a SHA-256 hash (tokens, session ids, CSRF tokens) or an
-- Argon2id hash (passwords).
CREATE TABLE api_tokens (
    id           TEXT           NOT NULL PRIMARY KEY,
    token_id     TEXT           NOT NULL CONSTRAINT api_tokens_token_id_key UNIQUE,
    name         TEXT           NOT NULL CONSTRAINT api_tokens_name_key UNIQUE,
    role         TEXT           NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    token_hash   TEXT           NOT NULL CONSTRAINT api_tokens_token_hash_key UNIQUE,
    created_at   TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at TIMESTAMPTZ(3),
    expires_at   TIMESTAMPTZ(3),
    revoked_at   TIMESTAMPTZ(3)
);

CREATE TABLE dashboard_users (
    id                  TEXT           NOT NULL PRIMARY KEY,
    username            TEXT           NOT NULL CONSTRAINT dashboard_users_username_key UNIQUE,
    role                TEXT           NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    password_hash       TEXT           NOT NULL,
    created_at          TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    password_changed_at TIMESTAMPTZ(3) NOT NULL
);

CREATE TABLE dashboard_sessions (
    id           TEXT           NOT NULL PRIMARY KEY,
    session_hash TEXT           NOT NULL CONSTRAINT dashboard_sessions_session_hash_key UNIQUE,
    username     TEXT           NOT NULL
                 REFERENCES dashboard_users (username) ON DELETE CASCADE ON UPDATE CASCADE,
    role         TEXT           NOT NULL CHECK (role IN ('READ', 'ADMIN')),
    csrf_hash    TEXT           NOT NULL,
    created_at   TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at   TIMESTAMPTZ(3) NOT NULL,
    last_seen_at TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX dashboard_sessions_username_idx ON dashboard_sessions (username);
CREATE INDEX dashboard_sessions_expires_at_idx ON dashboard_sessions (expires_at);
