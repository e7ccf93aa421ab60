-- What hunts found in audit logs, and what each credential and identity was used for.
-- Neither holds a secret: logs carry key ids and token hashes, never the secrets themselves.

-- One row per (rule, raw record): hunting the same logs again finds the same rows.
CREATE TABLE hunt_hits (
    hit_key         TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    rule_id         TEXT,
    title           TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info','low','medium','high','critical')),
    techniques      TEXT NOT NULL,
    at              TEXT NOT NULL,
    window_position TEXT CHECK (window_position IN ('before','during','after')),
    source_kind     TEXT NOT NULL,
    action          TEXT NOT NULL,
    actor           TEXT,
    credential      TEXT,
    source          TEXT,
    user_agent      TEXT,
    summary         TEXT NOT NULL,
    event_id        TEXT,
    raw_file        TEXT NOT NULL,
    raw_offset      INTEGER NOT NULL,
    first_journal   INTEGER NOT NULL,
    last_journal    INTEGER NOT NULL
) STRICT;

CREATE INDEX hunt_hits_credential ON hunt_hits (credential);
CREATE INDEX hunt_hits_actor ON hunt_hits (actor);

-- Usage per log set (the paths one hunt read): hunting the same paths again replaces that set's
-- rows instead of counting the same events twice. Maps are JSON objects of value -> count.
CREATE TABLE log_usage (
    log_set     TEXT NOT NULL,
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL CHECK (subject IN ('credential','identity')),
    native_id   TEXT NOT NULL,
    events      INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    first_seen  TEXT,
    last_seen   TEXT,
    sources     TEXT NOT NULL,
    user_agents TEXT NOT NULL,
    actions     TEXT NOT NULL,
    journal     INTEGER NOT NULL,
    PRIMARY KEY (log_set, provider, subject, native_id)
) STRICT;

CREATE INDEX log_usage_subject ON log_usage (provider, subject, native_id);
