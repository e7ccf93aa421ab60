-- What the issuer answered when `scan --verify` asked, with the leaked secret, whether it
-- still works: one row per credential and check, so a key seen live before the revocation
-- and dead after it keeps both answers. The reason says what was asked and what came back;
-- it never holds the secret.
CREATE TABLE secret_liveness (
    credential_id TEXT NOT NULL REFERENCES credentials (id),
    checked_at    TEXT NOT NULL,
    liveness      TEXT NOT NULL CHECK (liveness IN ('live','dead','unknown')),
    reason        TEXT NOT NULL,
    journal_seq   BIGINT NOT NULL,
    PRIMARY KEY (credential_id, checked_at)
);
