//! Anthropic's Messages API. `translate` turns OpenAI chat requests into Messages requests
//! and Messages answers back into OpenAI answers (pure JSON, no I/O); `stream` does the same
//! for streamed events, one at a time; `adapter` is the [`Adapter`](super::Adapter) that sends
//! the translated request and hands the rest of the gateway OpenAI-format answers and chunks.

mod adapter;
mod stream;
#[cfg(test)]
mod tests;
mod translate;

pub use adapter::Anthropic;
pub use stream::StreamState;
pub use translate::{error_message, request, response, usage_of};
