//! tollgate: an LLM API gateway, event-sourced. This crate is the service: configuration,
//! startup, the management API and the command line.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod app;
pub mod cli;
pub mod command;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod metrics;
pub mod mock;
pub mod providers;
pub mod proxy;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod upstream_policy;
