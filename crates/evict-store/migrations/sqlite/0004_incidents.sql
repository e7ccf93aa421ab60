-- Incidents: an exposure window, a scope and indicators. Scope and indicators are short lists
-- kept as JSON arrays of text ("identity:i_…", "repo:/src/infra"); every change to a row is a
-- journal entry written in the same transaction.
CREATE TABLE incidents (
    name            TEXT PRIMARY KEY,
    compromised_at  TEXT NOT NULL,
    patched_at      TEXT,
    scope           TEXT NOT NULL,
    ioc_ips         TEXT NOT NULL,
    ioc_user_agents TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open','contained','verified','closed')),
    opened_at       TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    closed_at       TEXT,
    first_journal   INTEGER NOT NULL,
    last_journal    INTEGER NOT NULL
) STRICT;

-- What a hunt hit's action was done to (the user a key was created for): the residual access
-- computation follows it from a foothold to the identity the attacker made or changed.
ALTER TABLE hunt_hits ADD COLUMN target TEXT;
