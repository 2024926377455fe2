//! A key's or project's rate limits as OpenAI's `x-ratelimit-*` headers show them: the names,
//! the reset values and the limits rendered once (`budgets::rate_headers` adds what is left).

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

/// `1s` to `60s`, the values of a reset header, made once: an answer copies none of them.
pub(super) static RESETS: std::sync::LazyLock<Vec<HeaderValue>> = std::sync::LazyLock::new(|| {
    (0..=60)
        .map(|s| HeaderValue::from_str(&format!("{s}s")).expect("ASCII digits"))
        .collect()
});

/// A key's or project's rate limits with their limit headers rendered (once, when it is
/// loaded), so an answer only renders what is left.
#[derive(Debug, Clone, Default)]
pub struct RateShown {
    /// Requests, then tokens, per minute.
    pub(super) limits: [Option<(i64, HeaderValue)>; 2],
}

impl RateShown {
    pub fn new(limits: RateLimits) -> Self {
        let shown = |limit: Option<u64>| {
            let limit = i64::try_from(limit?).unwrap_or(i64::MAX);
            Some((limit, HeaderValue::from(limit)))
        };
        Self {
            limits: [
                shown(limits.requests_per_minute),
                shown(limits.tokens_per_minute),
            ],
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.limits.iter().all(Option::is_none)
    }
}
