-- Read models: typed tables written only by the projector, in the same transaction as its
-- checkpoint. Times are microseconds since the Unix epoch, money is nano-USD (1e-9 USD),
-- flags are 0/1 (one schema for both stores). The SQLite file has the same tables.
CREATE TABLE projector_checkpoints
(
    name     text PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO projector_checkpoints (name, position) VALUES ('read_models', 0);

CREATE TABLE rm_organizations
(
    id               text PRIMARY KEY,
    name             text   NOT NULL,
    project_limit    bigint NOT NULL,
    live_projects    bigint NOT NULL DEFAULT 0,
    credits_nano_usd bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL
);

CREATE TABLE rm_credit_grants
(
    position        bigint PRIMARY KEY,
    organization_id text   NOT NULL,
    amount_nano_usd bigint NOT NULL,
    reference       text   NOT NULL,
    actor           text   NOT NULL,
    granted_at      bigint NOT NULL
);
CREATE INDEX rm_credit_grants_org ON rm_credit_grants (organization_id, position);

CREATE TABLE rm_members
(
    id              text PRIMARY KEY,
    organization_id text   NOT NULL,
    email           text   NOT NULL,
    role            text   NOT NULL,
    token_hash      text   NOT NULL UNIQUE,
    created_at      bigint NOT NULL
);
CREATE INDEX rm_members_org ON rm_members (organization_id);

CREATE TABLE rm_projects
(
    id                     text PRIMARY KEY,
    organization_id        text   NOT NULL,
    name                   text   NOT NULL,
    description            text   NOT NULL,
    mode                   text   NOT NULL,
    caching_enabled        bigint NOT NULL,
    cache_duration_seconds bigint NOT NULL,
    archived               bigint NOT NULL DEFAULT 0,
    created_at             bigint NOT NULL,
    updated_at             bigint NOT NULL
);
CREATE INDEX rm_projects_org ON rm_projects (organization_id, archived);

CREATE TABLE rm_provider_keys
(
    id              text PRIMARY KEY,
    project_id      text   NOT NULL,
    organization_id text   NOT NULL,
    provider        text   NOT NULL,
    name            text,
    base_url        text,
    encrypted_key   text   NOT NULL,
    last4           text   NOT NULL,
    enabled         bigint NOT NULL,
    created_at      bigint NOT NULL
);
CREATE INDEX rm_provider_keys_project ON rm_provider_keys (project_id, provider);

CREATE TABLE rm_api_keys
(
    id                   text PRIMARY KEY,
    project_id           text   NOT NULL,
    organization_id      text   NOT NULL,
    description          text   NOT NULL,
    prefix               text   NOT NULL,
    status               text   NOT NULL,
    usage_limit_nano_usd bigint,
    created_by           text   NOT NULL,
    created_at           bigint NOT NULL,
    updated_at           bigint NOT NULL
);
CREATE INDEX rm_api_keys_project ON rm_api_keys (project_id);

-- Key lookup by token hash. valid_until NULL: the key's current token; otherwise a rotated
-- token that works until then (Unix seconds).
CREATE TABLE rm_key_tokens
(
    token_hash  text PRIMARY KEY,
    key_id      text NOT NULL,
    valid_until bigint
);
CREATE INDEX rm_key_tokens_key ON rm_key_tokens (key_id);

-- One row per rule, in order. targets: the model or provider list (JSON array) of list rules.
CREATE TABLE rm_iam_rules
(
    key_id                  text   NOT NULL,
    position                bigint NOT NULL,
    rule_type               text   NOT NULL,
    targets                 text,
    pricing_type            text,
    max_input_nano_usd_per_mtok  bigint,
    max_output_nano_usd_per_mtok bigint,
    PRIMARY KEY (key_id, position)
);

CREATE TABLE rm_audit
(
    position        bigint PRIMARY KEY,
    organization_id text,
    aggregate_type  text   NOT NULL,
    aggregate_id    text   NOT NULL,
    sequence        bigint NOT NULL,
    event_type      text   NOT NULL,
    recorded_at     bigint NOT NULL
);
CREATE INDEX rm_audit_org ON rm_audit (organization_id, position);
CREATE INDEX rm_audit_aggregate ON rm_audit (aggregate_type, aggregate_id, position);
CREATE INDEX rm_audit_type ON rm_audit (event_type, position);
CREATE INDEX rm_audit_time ON rm_audit (recorded_at, position);
