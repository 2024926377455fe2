//! Prices and token counts: the maximum a request can cost (reserved before forwarding), the
//! real cost after, and token counts (tiktoken's o200k) when a provider reports none.
//!
//! The reservation uses a cheap bound (half a token per byte of text: above what tokenizers
//! produce for real text), so the hot path neither tokenizes nor keeps tokenizer tables in
//! memory; the tables load only if a provider ever omits usage.

use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

use tollgate_aggregates::types::{add_nanos, MAX_NANOS};

use super::catalog::{ModelEntry, ProviderOffer};
use super::providers::Usage;

/// Output tokens assumed when neither the request nor the catalog bounds them.
const DEFAULT_MAX_OUTPUT: u64 = 4096;

fn bpe() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

pub fn count_tokens(text: &str) -> u64 {
    match bpe() {
        Some(b) => b.encode_ordinary(text).len() as u64,
        // Without tables: about four characters a token.
        None => text.len().div_ceil(4) as u64,
    }
}

/// Tokens counted for each message's role and separators, and for an image part.
pub const MESSAGE_TOKENS: u64 = 4;
pub const IMAGE_TOKENS: u64 = 765; // a high-detail image tile budget
/// Tokens counted for every prompt, whatever its messages.
pub const PROMPT_BASE_TOKENS: u64 = 3;

/// An upper bound of a text's tokens.
pub fn text_bound(text: &str) -> u64 {
    text.len().div_ceil(2) as u64
}

/// An upper bound of a chat request's prompt tokens, for the reservation (read from a tree;
/// `prompt_fields` reads the same from the request's text).
pub fn prompt_bound(body: &Value) -> u64 {
    prompt_with(body, &text_bound)
}

/// Tokens of a chat request's prompt (tiktoken), for usage a provider did not report.
pub fn prompt_tokens(body: &Value) -> u64 {
    prompt_with(body, &count_tokens)
}

/// Message texts plus a small per-message overhead, and the tool definitions.
fn prompt_with(body: &Value, count_tokens: &dyn Fn(&str) -> u64) -> u64 {
    let mut total = PROMPT_BASE_TOKENS;
    for m in body["messages"].as_array().into_iter().flatten() {
        total += MESSAGE_TOKENS;
        match &m["content"] {
            Value::String(s) => total += count_tokens(s),
            Value::Array(parts) => {
                for p in parts {
                    if let Some(t) = p["text"].as_str() {
                        total += count_tokens(t);
                    } else if p.get("image_url").is_some() {
                        total += IMAGE_TOKENS;
                    }
                }
            }
            _ => {}
        }
        if let Some(calls) = m.get("tool_calls") {
            total += count_tokens(&calls.to_string());
        }
    }
    if let Some(tools) = body.get("tools") {
        total += count_tokens(&tools.to_string());
    }
    total
}

/// An upper bound of an embeddings request's input tokens (string, strings or token arrays).
pub fn input_bound(body: &Value) -> u64 {
    match &body["input"] {
        Value::String(s) => text_bound(s),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(text_bound)
                    .unwrap_or(i.as_array().map_or(1, |a| a.len() as u64))
            })
            .sum(),
        _ => 0,
    }
}

/// The most output the request can produce: its own limit (`max_completion_tokens`, else
/// `max_tokens`) or the model's, times its `n` choices. The request's fields are bounded when
/// it is read (`chat_request`); saturating keeps this total safe whatever it is given.
pub fn max_output_tokens(limit: Option<u64>, n: Option<u64>, model: &ModelEntry) -> u64 {
    limit
        .unwrap_or(model_max_output(model))
        .saturating_mul(n.unwrap_or(1).max(1))
}

/// The model's maximum output tokens, or `DEFAULT_MAX_OUTPUT` when the catalog has none.
pub fn model_max_output(model: &ModelEntry) -> u64 {
    if model.max_output_tokens > 0 {
        model.max_output_tokens
    } else {
        DEFAULT_MAX_OUTPUT
    }
}

/// nano-USD for `tokens` at `usd_per_mtok` (1 USD/Mtok = 1,000 nano-USD a token), within
/// `[0, MAX_NANOS]`: a negative or NaN price costs nothing, a huge product is the ceiling.
fn nanos(tokens: u64, usd_per_mtok: f64) -> i64 {
    let v = (tokens as f64 * usd_per_mtok * 1000.0).round();
    if v >= MAX_NANOS as f64 {
        MAX_NANOS
    } else if v > 0.0 {
        v as i64
    } else {
        // Zero, negative, or NaN.
        0
    }
}

/// Catalog price of the usage, within `[0, MAX_NANOS]`: prompt tokens read from the
/// provider's cache, written to it, and the rest, each at its own rate; then the output.
pub fn cost(offer: &ProviderOffer, usage: &Usage) -> i64 {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let written = usage
        .cache_creation_tokens
        .min(usage.prompt_tokens - cached);
    let plain = usage.prompt_tokens - cached - written;
    let input = offer.input_usd_per_mtok;
    let parts = [
        nanos(plain, input),
        nanos(cached, offer.cached_input_usd_per_mtok.unwrap_or(input)),
        nanos(written, offer.cache_write_usd_per_mtok.unwrap_or(input)),
        nanos(usage.completion_tokens, offer.output_usd_per_mtok),
    ];
    parts.into_iter().fold(0, add_nanos)
}

/// Nano-USD a real cost may exceed its reservation by through rounding alone: each of the
/// four priced parts (plain, cache read, cache write, output) is rounded on its own.
pub const ROUNDING_ALLOWANCE: i64 = 4;

/// What a request that may use `prompt` input and `max_output` output tokens is held for: its
/// cost at that usage, every prompt token at the dearest prompt rate (cache writes may cost
/// more than input), plus the rounding allowance, so the real cost of any usage within those
/// bounds (cache reads at a price no higher than input) never exceeds it.
pub fn reservation(offer: &ProviderOffer, prompt: u64, max_output: u64) -> i64 {
    let writes_dearer = offer
        .cache_write_usd_per_mtok
        .is_some_and(|w| w > offer.input_usd_per_mtok);
    let most = Usage {
        prompt_tokens: prompt,
        completion_tokens: max_output,
        cache_creation_tokens: if writes_dearer { prompt } else { 0 },
        ..Usage::default()
    };
    match cost(offer, &most) {
        // Free (or nothing to price): every usage within the bounds is free too.
        0 => 0,
        c => add_nanos(c, ROUNDING_ALLOWANCE),
    }
}

/// The gateway fee on a credits cost, in percent, within `[0, MAX_NANOS]`.
pub fn fee(cost: i64, percent: f64) -> i64 {
    let v = (cost as f64 * percent / 100.0).round();
    if v >= MAX_NANOS as f64 {
        MAX_NANOS
    } else if v > 0.0 {
        v as i64
    } else {
        0
    }
}

/// Nano-USD as a decimal dollar amount with nine places (`0.000123000`), exact and without
/// float formatting (which cost more than the rest of building the response).
pub fn usd(nano: i64) -> String {
    let n = nano.unsigned_abs();
    let mut out = String::with_capacity(24);
    if nano < 0 {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(n / 1_000_000_000));
    out.push('.');
    // Nine digits of fraction, zero-padded.
    let mut digits = itoa::Buffer::new();
    let fraction = digits.format(n % 1_000_000_000);
    out.extend(std::iter::repeat_n('0', 9 - fraction.len()));
    out.push_str(fraction);
    out
}

/// Nano-USD as an exact dollar amount for messages: trailing zeros trimmed (`0.00002`, `1.5`,
/// `3`), so a non-zero amount never reads as zero.
pub fn usd_short(nano: i64) -> String {
    let mut s = usd(nano);
    let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
    s.truncate(trimmed);
    s
}

#[cfg(test)]
#[path = "pricing_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> ProviderOffer {
        ProviderOffer {
            provider: tollgate_aggregates::Provider::OpenAi,
            model: "m".into(),
            input_usd_per_mtok: 2.5,
            output_usd_per_mtok: 10.0,
            cached_input_usd_per_mtok: Some(1.25),
            cache_write_usd_per_mtok: None,
        }
    }

    #[test]
    fn cost_uses_cached_price_for_cached_tokens() {
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            cached_tokens: 400,
            reasoning_tokens: 0,
            cache_creation_tokens: 0,
        };
        // 600 * 2.5e3 + 400 * 1.25e3 + 100 * 10e3 nano-USD
        assert_eq!(cost(&offer(), &usage), 1_500_000 + 500_000 + 1_000_000);
        assert_eq!(fee(3_000_000, 5.0), 150_000);
    }

    #[test]
    fn tokens_are_counted() {
        assert!(count_tokens("hello world") >= 2);
        let body = serde_json::json!({"messages": [{"role": "user", "content": "hello world"}]});
        assert!(prompt_tokens(&body) > count_tokens("hello world"));
        assert!(
            prompt_bound(&body) >= prompt_tokens(&body),
            "the bound is an upper bound"
        );
    }

    #[test]
    fn usd_has_nine_exact_places() {
        assert_eq!(usd(0), "0.000000000");
        assert_eq!(usd(5), "0.000000005");
        assert_eq!(usd(1_234_567_890), "1.234567890");
        assert_eq!(usd(-1_500_000_000), "-1.500000000");
        assert_eq!(usd(i64::MIN), "-9223372036.854775808");
    }

    #[test]
    fn short_amounts_are_exact() {
        assert_eq!(usd_short(20_000), "0.00002");
        assert_eq!(usd_short(1), "0.000000001");
        assert_eq!(usd_short(0), "0");
        assert_eq!(usd_short(1_500_000_000), "1.5");
        assert_eq!(usd_short(3_000_000_000), "3");
        assert_eq!(usd_short(-10_000_000_000), "-10");
    }

    #[test]
    fn costs_are_clamped() {
        let mut o = offer();
        let huge = Usage {
            prompt_tokens: u64::MAX,
            completion_tokens: u64::MAX,
            cached_tokens: 0,
            reasoning_tokens: 0,
            cache_creation_tokens: 0,
        };
        assert_eq!(cost(&o, &huge), MAX_NANOS);
        o.input_usd_per_mtok = f64::NAN;
        o.output_usd_per_mtok = -5.0;
        o.cached_input_usd_per_mtok = Some(f64::INFINITY);
        let u = Usage {
            prompt_tokens: 10,
            completion_tokens: 10,
            cached_tokens: 5,
            reasoning_tokens: 0,
            cache_creation_tokens: 0,
        };
        assert_eq!(cost(&o, &u), MAX_NANOS);
        assert_eq!(fee(MAX_NANOS, 1e300), MAX_NANOS);
        assert_eq!(fee(-5, 5.0), 0);
    }
}
