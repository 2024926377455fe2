//! Google Gemini's `generateContent` / `streamGenerateContent`. `translate` turns OpenAI chat
//! requests into Gemini requests and Gemini answers back into OpenAI answers (pure JSON, no
//! I/O); `stream` does the same for streamed chunks, one at a time; `adapter` is the
//! [`Adapter`](super::Adapter) that sends the translated request (the model travels in the
//! URL) and hands the rest of the gateway OpenAI-format answers and chunks.

mod adapter;
mod stream;
#[cfg(test)]
mod tests;
mod translate;

pub use adapter::Gemini;
pub use stream::StreamState;
pub use translate::{error_message, request, response};
