-- depends: 0002.subtree-rollups
-- The dashboard's sign-ins and sessions, kept here so the browser holds only an opaque id (however
-- large the provider's tokens) and signing out really ends a session. Only hashes of the ids are
-- stored: reading this table gives no one a cookie that works.

-- A sign-in started and not yet come back from the provider: what its callback must match.
CREATE TABLE dashboard_sign_ins (
    binding_hash  bytea PRIMARY KEY,  -- sha256 of the random value in the browser's sign-in cookie
    state         text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,      -- PKCE: never leaves this service until the token request
    return_to     text NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX dashboard_sign_ins_expiry ON dashboard_sign_ins (expires_at);

-- A signed-in person: who their id token named, checked by the shared token code, until it expires.
CREATE TABLE dashboard_sessions (
    id_hash    bytea PRIMARY KEY,     -- sha256 of the session cookie's value
    subject    text NOT NULL,
    roles      text[] NOT NULL,
    units      text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
