-- Credentials of one provider, in id order: what `evict inventory list --provider` and an
-- incident scoped to a provider page through. Without it PostgreSQL sorted the whole table
-- for every page.
CREATE INDEX credentials_provider ON credentials (provider, id);
