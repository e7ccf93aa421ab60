-- The provider's id of what a hunt hit's action created (the access key id of CreateAccessKey,
-- an Okta API token's id, a GitHub key's fingerprint or token id), when the record names it:
-- the residual access set then lists the attacker's new key once, under the id later use and
-- revocation go by, instead of once as "created" and once as "used".
ALTER TABLE hunt_hits ADD COLUMN created TEXT;
