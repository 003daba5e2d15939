-- Collection counts every kind each pass. With an index holding every
-- column its conditions read, PostgreSQL counts from the index alone
-- (an index-only scan of a few dozen bytes per row) instead of reading
-- every row's JSON value: a session's two activity times, a refresh
-- family's expiry and whether it was revoked. The single-column indexes
-- these replace are dropped.

-- +goose Up
CREATE INDEX sessions_activity ON sessions (last_activity, auth_time);
DROP INDEX sessions_last_activity;
CREATE INDEX refresh_families_expiry ON refresh_families (expires_at, revoked);
DROP INDEX refresh_families_expires_at;
