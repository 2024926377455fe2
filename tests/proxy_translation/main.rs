#![allow(dead_code)]
//! End-to-end translation tests: OpenAI chat completions in through HTTP, Anthropic Messages
//! and Gemini generateContent out to a wiremock upstream, and the answers back in OpenAI's shape.
//! Each test runs on SQLite and on Postgres (see `helpers::both!`).

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/upstream.rs"]
mod upstream;

mod anthropic;
mod common;
mod gemini;
mod messages_inbound;
mod passthrough;
mod payloads;
mod stream_errors;
mod token_classes;
