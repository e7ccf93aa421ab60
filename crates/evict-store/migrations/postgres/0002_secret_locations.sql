-- Where copies of a secret were seen (files, git blobs, chat messages), one row per place,
-- attached to the credential the secret is. The location is JSON (evict_model::Location) and
-- holds no secret text; location_key is a hash of it, so a re-scan finds the same row.
CREATE TABLE secret_locations (
    credential_id TEXT NOT NULL REFERENCES credentials (id),
    location_key  TEXT NOT NULL,
    rule_id       TEXT NOT NULL,
    confidence    TEXT NOT NULL CHECK (confidence IN ('low','medium','high')),
    kind          TEXT NOT NULL CHECK (kind IN ('file','git','message')),
    location      TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    first_journal BIGINT NOT NULL,
    PRIMARY KEY (credential_id, location_key)
);
