//! Prices and token counts: the maximum a request can cost (reserved before forwarding), the
//! real cost after, and token counts (tiktoken's o200k) when a provider reports none.
//!
//! The reservation uses a cheap bound (half a token per byte of text: above what tokenizers
//! produce for real text), so the hot path neither tokenizes nor keeps tokenizer tables in
//! memory; the tables load only if a provider ever omits usage.

use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

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
/// `max_tokens`) or the model's, times its `n` choices.
pub fn max_output_tokens(limit: Option<u64>, n: Option<u64>, model: &ModelEntry) -> u64 {
    limit
        .unwrap_or(if model.max_output_tokens > 0 {
            model.max_output_tokens
        } else {
            DEFAULT_MAX_OUTPUT
        })
        .saturating_mul(n.unwrap_or(1).max(1))
}

/// nano-USD for `tokens` at `usd_per_mtok` (1 USD/Mtok = 1,000 nano-USD a token).
fn nanos(tokens: u64, usd_per_mtok: f64) -> i64 {
    (tokens as f64 * usd_per_mtok * 1000.0).round() as i64
}

/// Catalog price of the usage.
pub fn cost(offer: &ProviderOffer, usage: &Usage) -> i64 {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let cached_price = offer
        .cached_input_usd_per_mtok
        .unwrap_or(offer.input_usd_per_mtok);
    nanos(usage.prompt_tokens - cached, offer.input_usd_per_mtok)
        + nanos(cached, cached_price)
        + nanos(usage.completion_tokens, offer.output_usd_per_mtok)
}

/// The gateway fee on a credits cost, in percent.
pub fn fee(cost: i64, percent: f64) -> i64 {
    (cost as f64 * percent / 100.0).round() as i64
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> ProviderOffer {
        ProviderOffer {
            provider: "openai".into(),
            model: "m".into(),
            input_usd_per_mtok: 2.5,
            output_usd_per_mtok: 10.0,
            cached_input_usd_per_mtok: Some(1.25),
        }
    }

    #[test]
    fn cost_uses_cached_price_for_cached_tokens() {
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            cached_tokens: 400,
            reasoning_tokens: 0,
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
}
