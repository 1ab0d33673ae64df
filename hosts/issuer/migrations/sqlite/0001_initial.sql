-- AAuth issuer storage, SQLite dialect.
-- Times are unix seconds (INTEGER). Secrets used as lookup keys (request tokens, codes,
-- refresh tokens, session ids) are stored only as SHA-256 digests (32-byte BLOBs).
-- "Expired" means expires_at <= now: a row is live while now < expires_at.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: it is the token `sub`
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,                  -- PHC string (argon2id)
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE pending_requests (
    id             INTEGER PRIMARY KEY,
    token_hash     BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    agent_id       TEXT    NOT NULL,
    agent_delegate TEXT,
    agent_jwk      TEXT    NOT NULL,
    agent_jkt      TEXT    NOT NULL,
    resource_id    TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    state          TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    decided_at     INTEGER,
    decision       TEXT CHECK (decision IN ('approved', 'denied')),
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    CHECK ((decided_at IS NULL) = (decision IS NULL))
) STRICT;
CREATE INDEX pending_requests_expires_at ON pending_requests (expires_at);

-- A code copies the request it approves, so redemption is one UPDATE … RETURNING.
CREATE TABLE authorization_codes (
    code_hash      BLOB    PRIMARY KEY CHECK (length(code_hash) = 32),
    pending_id     INTEGER REFERENCES pending_requests (id) ON DELETE SET NULL,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id       TEXT    NOT NULL,
    agent_delegate TEXT,
    agent_jwk      TEXT    NOT NULL,
    agent_jkt      TEXT    NOT NULL,
    resource_id    TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    state          TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash     BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    agent_id       TEXT    NOT NULL,
    agent_delegate TEXT,
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    resource_id    TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    agent_jwk      TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    revoked_at     INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_user_agent ON refresh_tokens (user_id, agent_id);

CREATE TABLE consents (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id    TEXT    NOT NULL,
    resource_id TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (user_id, agent_id, resource_id)
) STRICT;

CREATE TABLE consent_scopes (
    consent_id INTEGER NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (consent_id, scope)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE signing_keys (
    kid          TEXT    PRIMARY KEY,
    alg          TEXT    NOT NULL,
    private_seed BLOB    NOT NULL,
    public_jwk   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    retired_at   INTEGER,
    CHECK (NOT (active = 1 AND retired_at IS NOT NULL))
) STRICT;
-- At most one active key; rotate() switches it inside one transaction.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active = 1;
