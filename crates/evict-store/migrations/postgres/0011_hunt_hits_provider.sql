-- The provider a hunt hit's event is filed under. The log source alone does not say it for
-- JSON lines read with a mapping (the mapping names the provider: `postgres`, `myapp`), and
-- without it the residual access set could not resolve such a hit's actor or credential to the
-- provider's identities and credentials. Hits stored before stay NULL: their provider is the
-- one the log source implies (CloudTrail: aws).
ALTER TABLE hunt_hits ADD COLUMN provider TEXT;
