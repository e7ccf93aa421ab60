-- Identities and credentials from inventories and discovery, and the evidence journal.
-- Ids are derived from (provider, external id) by evict-model, so imports are idempotent.
-- Times are RFC 3339 UTC text with whole seconds ('YYYY-MM-DDTHH:MM:SSZ'): they sort as text.

CREATE TABLE identities (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('human','service','workload','ai_agent','bot','oauth_app','root')),
    owner         TEXT,
    status        TEXT NOT NULL CHECK (status IN ('active','disabled','deleted')),
    privilege     TEXT NOT NULL CHECK (privilege IN ('standard','privileged','admin','unknown')),
    mfa           INTEGER CHECK (mfa IN (0, 1)),
    created_at    TEXT,
    created_by    TEXT,
    disabled_at   TEXT,
    last_used_at  TEXT,
    source        TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    first_journal INTEGER NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE INDEX identities_owner ON identities (owner);

CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    provider       TEXT NOT NULL,
    external_key   TEXT NOT NULL,
    native_id      TEXT,
    identity_id    TEXT REFERENCES identities (id),
    kind           TEXT NOT NULL CHECK (kind IN ('access_key','api_token','password','session','refresh_token','access_token','oauth_grant','ssh_key','certificate','device','signing_key','webhook_secret','client_secret')),
    status         TEXT NOT NULL CHECK (status IN ('active','inactive','revoked','expired')),
    fingerprint    TEXT CHECK (fingerprint IS NULL OR length(fingerprint) = 64),
    preview        TEXT,
    issued_at      TEXT,
    expires_at     TEXT,
    last_used_at   TEXT,
    last_used_from TEXT,
    scopes         TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    first_journal  INTEGER NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

CREATE INDEX credentials_identity ON credentials (identity_id);
CREATE INDEX credentials_native_id ON credentials (provider, native_id) WHERE native_id IS NOT NULL;
CREATE INDEX credentials_fingerprint ON credentials (fingerprint) WHERE fingerprint IS NOT NULL;

-- Append-only, hash-chained. journal_head holds the last (seq, hash) written, so removing the
-- newest entries is caught as surely as editing old ones.
CREATE TABLE journal (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    body      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;

CREATE TABLE journal_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;

INSERT INTO journal_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
