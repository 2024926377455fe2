//! What OpenAI's `x-ratelimit-*` headers are made of, made once: their names and the reset
//! values, and each limit's value once per key or project (`budgets::rate_headers` adds what
//! is left).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::http::{HeaderName, HeaderValue};
use tollgate_aggregates::period::RateLimits;

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

/// The values of a key's or project's `x-ratelimit-limit-{requests,tokens}` headers, made when
/// it is loaded: an answer copies them without formatting or allocating.
#[derive(Debug, Clone, Default)]
pub struct Limits(pub [Option<HeaderValue>; 2]);

impl Limits {
    pub fn of(limits: RateLimits) -> Self {
        Self([limits.requests_per_minute, limits.tokens_per_minute].map(|l| l.map(value)))
    }
}

/// Each limit's text, kept for the process's life (one per distinct number ever set, a few
/// bytes each), so that its header value is static text: copied without a reference count.
static TEXTS: LazyLock<Mutex<HashMap<u64, &'static str>>> = LazyLock::new(Mutex::default);

fn value(limit: u64) -> HeaderValue {
    let mut texts = TEXTS.lock().unwrap_or_else(|p| p.into_inner());
    let text = texts
        .entry(limit)
        .or_insert_with(|| Box::leak(limit.to_string().into_boxed_str()));
    HeaderValue::from_static(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_shown_as_set() {
        let limits = RateLimits {
            requests_per_minute: Some(30),
            tokens_per_minute: None,
        };
        let shown = Limits::of(limits);
        assert_eq!(shown.0[0].as_ref().map(|v| v.to_str().unwrap()), Some("30"));
        assert!(shown.0[1].is_none());
        let again = Limits::of(limits);
        assert_eq!(shown.0[0], again.0[0]);
        assert_eq!(RESETS[7], "7s");
        assert_eq!(RESETS[60], "60s");
    }
}
