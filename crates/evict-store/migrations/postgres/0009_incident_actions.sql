-- The containment executor's durable actions: one row per provider operation of an incident's
-- plan, keyed by its idempotency key, moving planned -> in_flight -> done | failed |
-- needs_manual. A run killed at any moment leaves each action in one of these states, and the
-- next run takes up exactly what is not finished. `claimed_by` names the process that holds an
-- in-flight action (host/pid/start time), so a resumed run can tell a dead holder from a live
-- one. Every change is written with its journal entry.
CREATE TABLE incident_actions (
    incident      TEXT NOT NULL REFERENCES incidents (name),
    key           TEXT NOT NULL,
    step          BIGINT NOT NULL,
    plan_version  BIGINT NOT NULL,
    tier          TEXT NOT NULL,
    artifact      TEXT NOT NULL,
    provider      TEXT NOT NULL,
    target_kind   TEXT NOT NULL,
    native_id     TEXT NOT NULL,
    action        TEXT NOT NULL,
    after_keys    TEXT NOT NULL,
    request       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('planned','in_flight','done','failed','needs_manual')),
    attempts      BIGINT NOT NULL,
    changed       BIGINT,
    result        TEXT,
    claimed_by    TEXT,
    claimed_at    TEXT,
    not_before    TEXT,
    updated_at    TEXT NOT NULL,
    journal       BIGINT NOT NULL,
    PRIMARY KEY (incident, key)
);

CREATE INDEX incident_actions_by_state ON incident_actions (incident, state, step);
