-- One table per record kind. key is the record's keyed digest (52
-- characters of [a-z2-7]), version a random 63-bit number every write
-- replaces, value the record as JSON (sealed fields stay sealed). The
-- other columns are what collection reads.

-- +goose Up
CREATE TABLE sessions (
    key           text PRIMARY KEY,
    version       bigint NOT NULL,
    value         jsonb NOT NULL,
    auth_time     timestamptz NOT NULL,
    last_activity timestamptz NOT NULL
);
CREATE TABLE authorization_codes (
    key        text PRIMARY KEY,
    version    bigint NOT NULL,
    value      jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE refresh_families (
    key        text PRIMARY KEY,
    version    bigint NOT NULL,
    value      jsonb NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked    boolean NOT NULL
);
CREATE TABLE revoked_tokens (
    key        text PRIMARY KEY,
    version    bigint NOT NULL,
    value      jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE consents (
    key        text PRIMARY KEY,
    version    bigint NOT NULL,
    value      jsonb NOT NULL,
    expires_at timestamptz NOT NULL
);
-- The Tenant whose state this schema holds (its metadata.uid): the operator
-- refuses to point a second Tenant at it.
CREATE TABLE owner (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tenant_uid text NOT NULL,
    tenant     text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
