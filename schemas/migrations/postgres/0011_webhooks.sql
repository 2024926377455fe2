-- Spend alerts: webhooks, the alerts raised for them, and each delivery attempt.
CREATE TABLE rm_webhooks
(
    id                     text   PRIMARY KEY,
    organization_id        text   NOT NULL,
    project_id             text,
    url                    text   NOT NULL,
    events                 text   NOT NULL,
    thresholds             text   NOT NULL,
    credits_below_nano_usd bigint,
    encrypted_secret       text   NOT NULL,
    deleted                bigint NOT NULL DEFAULT 0,
    created_at             bigint NOT NULL
);
CREATE INDEX rm_webhooks_org ON rm_webhooks (organization_id);

CREATE TABLE rm_alerts
(
    id              text   PRIMARY KEY,
    webhook_id      text   NOT NULL,
    organization_id text   NOT NULL,
    kind            text   NOT NULL,
    body            text   NOT NULL,
    raised_at       bigint NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    delivered       bigint NOT NULL DEFAULT 0,
    next_attempt_at bigint
);
CREATE INDEX rm_alerts_due ON rm_alerts (next_attempt_at);
CREATE INDEX rm_alerts_webhook ON rm_alerts (webhook_id, raised_at);

CREATE TABLE rm_alert_attempts
(
    alert_id  text   NOT NULL,
    attempt   bigint NOT NULL,
    at        bigint NOT NULL,
    status    bigint,
    error     text,
    delivered bigint NOT NULL,
    PRIMARY KEY (alert_id, attempt)
);
