//! Fallbacks and retries. A request may list `models` (OpenRouter's convention, first tried
//! first): when the model it is served by fails (429, 5xx, a broken connection, a timeout,
//! before the first byte of a stream), the next one is tried, each routed, IAM-checked and
//! held against the limits anew. A project may set a default chain per model, used when the
//! request lists none. After a 429 or a 5xx the same route is first retried (once by
//! default, `proxy.max_retries`), after a short jittered wait or what the provider's
//! `Retry-After` asks when that is short.

use std::time::Duration;

use axum::body::Bytes;
use rand::Rng;
use serde_json::Value;

use tollgate_aggregates::fallbacks::Fallbacks;

use super::error::ProxyError;

/// Models a request may list.
pub const MAX_MODELS: usize = 5;
/// The longest `Retry-After` waited for; a longer one moves on to the next candidate.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// The first backoff without `Retry-After`, doubled with each retry, jittered by ±50 %.
const BACKOFF: Duration = Duration::from_millis(200);

/// The searcher for `"models"`, made once (making one costs about what a search does).
static MODELS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"models\""));

/// The body without the gateway's `models` field, and the models to try after the request's
/// own (`model`, or else the first listed). A body without `models` is returned as it is.
pub fn split_models(raw: &Bytes) -> Result<(Bytes, Vec<String>), ProxyError> {
    // One vectorized scan: most requests list no models and are not parsed again.
    if MODELS.find(raw).is_none() {
        return Ok((raw.clone(), Vec::new()));
    }
    let mut body: Value =
        serde_json::from_slice(raw).map_err(|e| ProxyError::malformed_json(&e))?;
    let Some(listed) = body.as_object_mut().and_then(|o| o.remove("models")) else {
        return Ok((raw.clone(), Vec::new()));
    };
    let bad = || {
        ProxyError::invalid(
            "models",
            format!("models must be an array of 1 to {MAX_MODELS} model names"),
        )
    };
    let listed = listed.as_array().ok_or_else(bad)?;
    let mut models = listed
        .iter()
        .map(|m| m.as_str().filter(|m| !m.is_empty()).map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if models.is_empty() || models.len() > MAX_MODELS {
        return Err(bad());
    }
    match body.get("model").and_then(Value::as_str) {
        Some(model) => models.retain(|m| m != model),
        None => body["model"] = Value::String(models.remove(0)),
    }
    let body = serde_json::to_vec(&body).map_err(|e| ProxyError::malformed_json(&e))?;
    Ok((Bytes::from(body), models))
}

/// The project's default chain for a request of `requested` (as the request names it, or else
/// its catalog id); empty when it has none.
pub fn project_chain(chains: &Fallbacks, requested: &str, id: &str) -> Vec<String> {
    chains
        .get(requested)
        .or_else(|| chains.get(id))
        .cloned()
        .unwrap_or_default()
}

/// How long to wait before retrying the route that failed with `error`, after `done` of at
/// most `max` retries; `None`: do not retry it.
pub fn retry_delay(error: &ProxyError, done: u32, max: u32) -> Option<Duration> {
    if done >= max {
        return None;
    }
    let asked = match error {
        ProxyError::UpstreamRejected {
            status: 429,
            retry_after,
            ..
        } => retry_after.as_deref().map(parse_retry_after),
        // A provider's 5xx. Not an unreadable answer (it would come again), nor a timeout
        // (the client has waited the whole timeout once already): those go to the next model.
        ProxyError::Upstream {
            status: Some(500..),
            ..
        } => None,
        _ => return None,
    };
    match asked {
        // Longer than is worth holding the client for, or unreadable: the next candidate.
        Some(Some(wait)) if wait <= MAX_WAIT => Some(wait),
        Some(_) => None,
        None => {
            let base = BACKOFF.saturating_mul(1 << done.min(8));
            Some(base.mul_f64(rand::thread_rng().gen_range(0.5..1.5)))
        }
    }
}

/// `Retry-After` as seconds or an HTTP date (RFC 7231), from now.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let left = at.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_taken_out_of_the_body() {
        let raw = Bytes::from_static(br#"{"models": ["a", "b", "c"], "messages": []}"#);
        let (body, rest) = split_models(&raw).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["model"], "a");
        assert!(body.get("models").is_none());
        assert_eq!(rest, ["b", "c"]);
        let raw = Bytes::from_static(br#"{"model": "b", "models": ["a", "b"]}"#);
        assert_eq!(split_models(&raw).unwrap().1, ["a"]);
        let plain = Bytes::from_static(br#"{"model": "a"}"#);
        assert_eq!(split_models(&plain).unwrap(), (plain.clone(), vec![]));
        for bad in [
            r#"{"models": []}"#,
            r#"{"models": "a"}"#,
            r#"{"models": [1]}"#,
            r#"{"models": ["a","b","c","d","e","f"]}"#,
        ] {
            assert!(
                split_models(&Bytes::from(bad.to_string())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn retries_wait_what_the_provider_asks_when_it_is_short() {
        let limited = |after: Option<&str>| ProxyError::UpstreamRejected {
            status: 429,
            message: "slow down".into(),
            retry_after: after.map(str::to_string),
        };
        assert_eq!(
            retry_delay(&limited(Some("2")), 0, 1),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_delay(&limited(Some("120")), 0, 1),
            None,
            "too long: move on"
        );
        assert_eq!(
            retry_delay(&limited(Some("2")), 1, 1),
            None,
            "retried once already"
        );
        let backoff = retry_delay(&limited(None), 0, 1).unwrap();
        assert!(
            backoff >= BACKOFF / 2 && backoff <= BACKOFF * 3 / 2,
            "{backoff:?}"
        );
        let failed = ProxyError::Upstream {
            status: Some(503),
            message: "down".into(),
        };
        assert!(retry_delay(&failed, 0, 1).is_some());
        assert!(
            retry_delay(&failed, 2, 3).is_some(),
            "a third retry of three"
        );
        assert_eq!(retry_delay(&failed, 0, 0), None, "retries turned off");
        assert_eq!(retry_delay(&ProxyError::UpstreamTimeout, 0, 1), None);
        let unreadable = ProxyError::Upstream {
            status: None,
            message: "garbled".into(),
        };
        assert_eq!(retry_delay(&unreadable, 0, 1), None);
        let rejected = ProxyError::UpstreamRejected {
            status: 400,
            message: "bad".into(),
            retry_after: None,
        };
        assert_eq!(
            retry_delay(&rejected, 0, 1),
            None,
            "a bad request is not retried"
        );
        let date = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc2822();
        let wait = parse_retry_after(&date).unwrap();
        assert!(
            wait <= Duration::from_secs(3) && wait >= Duration::from_secs(1),
            "{wait:?}"
        );
    }
}
