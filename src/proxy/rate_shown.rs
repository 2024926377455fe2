//! What OpenAI's `x-ratelimit-*` headers are made of, made once: their names and the reset
//! values (`budgets::rate_headers` adds the limits and what is left).

use std::sync::LazyLock;

use axum::http::{HeaderName, HeaderValue};

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, named once.
pub(super) static RATE_HEADERS: [[HeaderName; 3]; 2] = [
    [
        HeaderName::from_static("x-ratelimit-limit-requests"),
        HeaderName::from_static("x-ratelimit-remaining-requests"),
        HeaderName::from_static("x-ratelimit-reset-requests"),
    ],
    [
        HeaderName::from_static("x-ratelimit-limit-tokens"),
        HeaderName::from_static("x-ratelimit-remaining-tokens"),
        HeaderName::from_static("x-ratelimit-reset-tokens"),
    ],
];

/// `0s1s2s…60s`, the text of every reset value.
static RESET_TEXT: LazyLock<String> = LazyLock::new(|| (0..=60).map(|s| format!("{s}s")).collect());

/// `0s` to `60s`, the values of a reset header, made once over static text: copying one into
/// an answer is free. (A value made from a `String` is reference-counted: every answer's copy
/// and drop would be two atomic writes to a word all serving threads share.)
pub(super) static RESETS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    let text: &'static str = RESET_TEXT.as_str();
    let mut at = 0;
    (0..=60)
        .map(|s| {
            let len = if s < 10 { 2 } else { 3 };
            let value = HeaderValue::from_static(&text[at..at + len]);
            at += len;
            value
        })
        .collect()
});
