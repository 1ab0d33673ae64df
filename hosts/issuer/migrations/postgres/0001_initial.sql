-- AAuth issuer storage, PostgreSQL dialect: the same tables, columns and rules as
-- migrations/sqlite/0001_initial.sql, so both backends give the Store trait one meaning.
-- Times are unix seconds (BIGINT). Secrets used as lookup keys (request tokens, codes,
-- refresh tokens, session ids) are stored only as SHA-256 digests (32-byte BYTEA).
-- "Expired" means expires_at <= now: a row is live while now < expires_at.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused: the token `sub`
    name          TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,                                 -- PHC string (argon2id)
    created_at    BIGINT NOT NULL
);

CREATE TABLE pending_requests (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash     BYTEA  NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    agent_id       TEXT   NOT NULL,
    agent_delegate TEXT,
    agent_jwk      TEXT   NOT NULL,
    agent_jkt      TEXT   NOT NULL,
    resource_id    TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    state          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    decided_at     BIGINT,
    decision       TEXT CHECK (decision IN ('approved', 'denied')),
    user_id        BIGINT REFERENCES users (id) ON DELETE CASCADE,
    CHECK ((decided_at IS NULL) = (decision IS NULL))
);
CREATE INDEX pending_requests_expires_at ON pending_requests (expires_at);

-- A code copies the request it approves, so redemption is one UPDATE … RETURNING: under
-- READ COMMITTED a second concurrent UPDATE waits for the first, re-checks
-- `used_at IS NULL` on the committed row and matches nothing.
CREATE TABLE authorization_codes (
    code_hash      BYTEA  PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    pending_id     BIGINT REFERENCES pending_requests (id) ON DELETE SET NULL,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id       TEXT   NOT NULL,
    agent_delegate TEXT,
    agent_jwk      TEXT   NOT NULL,
    agent_jkt      TEXT   NOT NULL,
    resource_id    TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    state          TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash     BYTEA  PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    agent_id       TEXT   NOT NULL,
    agent_delegate TEXT,
    user_id        BIGINT REFERENCES users (id) ON DELETE CASCADE,
    resource_id    TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    agent_jwk      TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT
);
CREATE INDEX refresh_tokens_user_agent ON refresh_tokens (user_id, agent_id);

CREATE TABLE consents (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id    TEXT   NOT NULL,
    resource_id TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (user_id, agent_id, resource_id)
);

CREATE TABLE consent_scopes (
    consent_id BIGINT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (consent_id, scope)
);

CREATE TABLE sessions (
    id_hash    BYTEA  PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE signing_keys (
    kid          TEXT    PRIMARY KEY,
    alg          TEXT    NOT NULL,
    private_seed BYTEA   NOT NULL,
    public_jwk   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT false,
    retired_at   BIGINT,
    CHECK (NOT (active AND retired_at IS NOT NULL))
);
-- At most one active key; rotate() switches it inside one transaction. Two servers that
-- rotate at once: the second INSERT waits on this index and fails with a unique violation.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;
