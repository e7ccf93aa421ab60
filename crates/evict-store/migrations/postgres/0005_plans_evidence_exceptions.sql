-- An incident's containment plans (versioned: a new version only when the content changes),
-- the evidence gathered per artifact (probes, attestations), and the exceptions granted.
-- Artifacts are named by their key: an Evict id, or provider:what:reference for what only the
-- logs know. Each row is written with its journal entry.
CREATE TABLE incident_plans (
    incident       TEXT NOT NULL REFERENCES incidents (name),
    version        BIGINT NOT NULL,
    made_at        TEXT NOT NULL,
    policy_digest  TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    plan           TEXT NOT NULL,
    journal        BIGINT NOT NULL,
    PRIMARY KEY (incident, version)
);

CREATE TABLE incident_evidence (
    incident TEXT NOT NULL REFERENCES incidents (name),
    artifact TEXT NOT NULL,
    verdict  TEXT NOT NULL CHECK (verdict IN ('verified_revoked','still_live','unverified','attested')),
    by_whom  TEXT NOT NULL,
    detail   TEXT NOT NULL,
    at       TEXT NOT NULL,
    journal  BIGINT NOT NULL,
    PRIMARY KEY (incident, artifact, journal)
);

CREATE TABLE incident_exceptions (
    incident   TEXT NOT NULL REFERENCES incidents (name),
    artifact   TEXT NOT NULL,
    owner      TEXT NOT NULL,
    approver   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    at         TEXT NOT NULL,
    journal    BIGINT NOT NULL,
    PRIMARY KEY (incident, artifact)
);
