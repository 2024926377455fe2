-- Requests and tokens per minute on keys and projects (NULL: no limit).
ALTER TABLE rm_api_keys ADD COLUMN requests_per_minute BIGINT;
ALTER TABLE rm_api_keys ADD COLUMN tokens_per_minute BIGINT;
ALTER TABLE rm_projects ADD COLUMN requests_per_minute BIGINT;
ALTER TABLE rm_projects ADD COLUMN tokens_per_minute BIGINT;
