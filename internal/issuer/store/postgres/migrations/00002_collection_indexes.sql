-- Collection deletes and counts expired rows by index range, in bounded
-- batches, instead of scanning whole tables: a session has ended once
-- either its last activity or its login is old enough, every other kind
-- at expires_at.

-- +goose Up
CREATE INDEX sessions_last_activity ON sessions (last_activity);
CREATE INDEX sessions_auth_time ON sessions (auth_time);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
CREATE INDEX consents_expires_at ON consents (expires_at);
