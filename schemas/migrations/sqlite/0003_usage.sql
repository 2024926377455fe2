-- Usage read models, projected from UsageRecorded events: one row per request (id: the
-- event's position * 10000 + the record's index in it), and spend totals per key, project and
-- organization.
CREATE TABLE rm_usage_logs
(
    id                     bigint PRIMARY KEY,
    position               bigint NOT NULL,
    request_id             text   NOT NULL,
    organization_id        text   NOT NULL,
    project_id             text   NOT NULL,
    key_id                 text   NOT NULL,
    endpoint               text   NOT NULL,
    requested_model        text   NOT NULL,
    model                  text   NOT NULL,
    provider               text   NOT NULL,
    paid_with              text   NOT NULL,
    prompt_tokens          bigint NOT NULL,
    completion_tokens      bigint NOT NULL,
    cached_tokens          bigint NOT NULL,
    reasoning_tokens       bigint NOT NULL,
    cost_nano_usd          bigint NOT NULL,
    fee_nano_usd           bigint NOT NULL,
    estimated              bigint NOT NULL,
    cached                 bigint NOT NULL,
    streamed               bigint NOT NULL,
    status                 bigint NOT NULL,
    error_code             text,
    latency_ms             bigint NOT NULL,
    time_to_first_token_ms bigint,
    started_at             bigint NOT NULL
);
CREATE INDEX rm_usage_logs_project ON rm_usage_logs (project_id, id);
CREATE INDEX rm_usage_logs_key ON rm_usage_logs (key_id, id);
CREATE INDEX rm_usage_logs_time ON rm_usage_logs (project_id, started_at);

-- scope: key | project | organization. cost includes the fee.
CREATE TABLE rm_spend
(
    scope         text   NOT NULL,
    id            text   NOT NULL,
    requests      bigint NOT NULL,
    cost_nano_usd bigint NOT NULL,
    PRIMARY KEY (scope, id)
);
