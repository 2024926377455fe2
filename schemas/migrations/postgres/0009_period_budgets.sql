-- Period budgets on keys and projects (a limit renewed each hour, day, week or month), and
-- spend by hour, from which a period's spend is summed.
ALTER TABLE rm_api_keys ADD COLUMN period_limit_nano_usd BIGINT;
ALTER TABLE rm_api_keys ADD COLUMN period TEXT;
ALTER TABLE rm_projects ADD COLUMN period_limit_nano_usd BIGINT;
ALTER TABLE rm_projects ADD COLUMN period TEXT;

CREATE TABLE rm_spend_hourly
(
    scope         text   NOT NULL,
    id            text   NOT NULL,
    hour_start    bigint NOT NULL,
    requests      bigint NOT NULL,
    cost_nano_usd bigint NOT NULL,
    PRIMARY KEY (scope, id, hour_start)
);
