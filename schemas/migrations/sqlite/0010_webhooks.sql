-- Spend alerts: webhooks, the alerts raised for them, and each delivery attempt.
CREATE TABLE rm_webhooks
(
    id                     TEXT   PRIMARY KEY,
    organization_id        TEXT   NOT NULL,
    project_id             text,
    url                    TEXT   NOT NULL,
    events                 TEXT   NOT NULL,
    thresholds             TEXT   NOT NULL,
    credits_below_nano_usd INTEGER,
    encrypted_secret       TEXT   NOT NULL,
    deleted                INTEGER NOT NULL DEFAULT 0,
    created_at             INTEGER NOT NULL
);
CREATE INDEX rm_webhooks_org ON rm_webhooks (organization_id);

CREATE TABLE rm_alerts
(
    id              TEXT   PRIMARY KEY,
    webhook_id      TEXT   NOT NULL,
    organization_id TEXT   NOT NULL,
    kind            TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    raised_at       INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER
);
CREATE INDEX rm_alerts_due ON rm_alerts (next_attempt_at);
CREATE INDEX rm_alerts_webhook ON rm_alerts (webhook_id, raised_at);

CREATE TABLE rm_alert_attempts
(
    alert_id  TEXT   NOT NULL,
    attempt   INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    status    INTEGER,
    error     text,
    delivered INTEGER NOT NULL,
    PRIMARY KEY (alert_id, attempt)
);
