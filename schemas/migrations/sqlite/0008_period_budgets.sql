-- Period budgets on keys and projects (a limit renewed each hour, day, week or month), and
-- spend by hour, from which a period's spend is summed.
ALTER TABLE rm_api_keys ADD COLUMN period_limit_nano_usd INTEGER;
ALTER TABLE rm_api_keys ADD COLUMN period TEXT;
ALTER TABLE rm_projects ADD COLUMN period_limit_nano_usd INTEGER;
ALTER TABLE rm_projects ADD COLUMN period TEXT;

CREATE TABLE rm_spend_hourly
(
    scope         TEXT   NOT NULL,
    id            TEXT   NOT NULL,
    hour_start    INTEGER NOT NULL,
    requests      INTEGER NOT NULL,
    cost_nano_usd INTEGER NOT NULL,
    PRIMARY KEY (scope, id, hour_start)
);
