//! Integration tests through HTTP, each on SQLite and on Postgres (see `helpers::both!`).

mod helpers;
mod processes;
mod upstream;

mod audit;
mod busy_port;
mod cli;
mod concurrency;
mod errors;
mod isolation;
mod key_expiry;
mod keys;
mod openapi;
mod organizations;
mod period_budgets;
mod projector;
mod projects;
mod provider_keys;
mod proxy_iam;
mod proxy_limits;
mod proxy_modes;
mod proxy_overflow;
mod rate_limits;
mod replicas;
mod roles;
mod secrets;
mod shared_limits;
mod spool;
mod ssrf;
mod threads;
mod usage_rebuild;
mod usage_rollup;
mod webhooks;
