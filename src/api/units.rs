//! Money and time as the management API shows and takes them: USD for nano-USD, RFC 3339 for
//! microseconds or seconds since the epoch.

use tollgate_aggregates::types::{MAX_NANOS, NANOS_PER_USD};

use super::error::{ApiError, ApiResult};

/// Microseconds since the epoch as RFC 3339 (UTC).
pub fn time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// RFC 3339 to microseconds since the epoch; `param` names the field in the error.
pub fn parse_time(param: &str, text: &str) -> ApiResult<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| ApiError::invalid(param, format!("{param} must be an RFC 3339 time: {e}")))
}

pub fn usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// USD to nano-USD; rejects negative, non-finite and absurd amounts (over the money ceiling,
/// $1,000,000,000).
pub fn nanos(param: &str, usd: f64) -> ApiResult<i64> {
    if !usd.is_finite() || !(0.0..=(MAX_NANOS / NANOS_PER_USD) as f64).contains(&usd) {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be between 0 and 1000000000"),
        ));
    }
    Ok((usd * NANOS_PER_USD as f64).round() as i64)
}

/// Unix seconds as RFC 3339.
pub fn time_of_secs(secs: i64) -> String {
    time(secs.saturating_mul(1_000_000))
}
