//! What a request asks of the cache: `Cache-Control` (`no-cache`: skip the lookup but store
//! the answer; `no-store`: neither; `max-age=N`: only an entry at most N seconds old),
//! `x-tollgate-cache-ttl` (how long to keep this answer, within the project's duration) and
//! `x-tollgate-cache-namespace` (entries apart from the rest of the project's).

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName};

use super::error::ProxyError;

pub const TTL: HeaderName = HeaderName::from_static("x-tollgate-cache-ttl");
pub const NAMESPACE: HeaderName = HeaderName::from_static("x-tollgate-cache-namespace");

/// The shortest time an answer may be kept (the project setting's own lower bound).
const MIN_TTL_SECS: u64 = 10;
const MAX_NAMESPACE: usize = 64;

/// The cache's part in one request, for a project with caching on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Look for a stored answer.
    pub lookup: bool,
    /// Keep this answer.
    pub store: bool,
    /// Accept only an entry this young.
    pub max_age: Option<u64>,
    /// How long to keep this answer.
    pub ttl: Duration,
    pub namespace: Option<String>,
}

impl Policy {
    /// What the cache key is made under: the project, and the namespace when one is named.
    pub fn scope(&self, project: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{project}/{ns}"),
            None => project.to_string(),
        }
    }

    /// `x-tollgate-cache` of an answer not served from the cache.
    pub fn missed(&self) -> &'static str {
        match self.lookup {
            true => "MISS",
            false => "BYPASS",
        }
    }
}

/// The request's policy, for a project whose answers are kept `project_ttl`.
pub fn policy(headers: &HeaderMap, project_ttl: Duration) -> Result<Policy, ProxyError> {
    let mut p = Policy {
        lookup: true,
        store: true,
        max_age: None,
        ttl: project_ttl,
        namespace: None,
    };
    for directive in headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
    {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.to_ascii_lowercase().as_str() {
            "no-cache" => p.lookup = false,
            "no-store" => (p.lookup, p.store) = (false, false),
            "max-age" => {
                let age = value.trim_matches('"').parse::<u64>().map_err(|_| {
                    invalid(
                        "cache-control",
                        format!("max-age must be whole seconds, not {value:?}"),
                    )
                })?;
                p.max_age = Some(age);
            }
            // Other directives say nothing to this cache.
            _ => {}
        }
    }
    if let Some(v) = headers.get(TTL) {
        let secs = v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
        let max = project_ttl.as_secs();
        match secs {
            Some(s) if (MIN_TTL_SECS..=max).contains(&s) => p.ttl = Duration::from_secs(s),
            _ => {
                return Err(invalid(
                    "x-tollgate-cache-ttl",
                    format!("x-tollgate-cache-ttl must be whole seconds from {MIN_TTL_SECS} to the project's cache duration ({max})"),
                ))
            }
        }
    }
    if let Some(v) = headers.get(NAMESPACE) {
        let ns = v.to_str().unwrap_or_default();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
        if ns.is_empty() || ns.len() > MAX_NAMESPACE || !ns.chars().all(allowed) {
            return Err(invalid(
                "x-tollgate-cache-namespace",
                format!("x-tollgate-cache-namespace must be 1 to {MAX_NAMESPACE} letters, digits, '-', '_', '.' or ':'"),
            ));
        }
        p.namespace = Some(ns.to_string());
    }
    Ok(p)
}

fn invalid(param: &str, message: String) -> ProxyError {
    ProxyError::invalid(param, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn directives_steer_lookup_and_store() {
        let p = policy(&HeaderMap::new(), DAY).unwrap();
        assert!(p.lookup && p.store && p.max_age.is_none() && p.ttl == DAY);
        assert_eq!(p.missed(), "MISS");
        let p = policy(&with(&[("cache-control", "no-cache")]), DAY).unwrap();
        assert!(!p.lookup && p.store);
        assert_eq!(p.missed(), "BYPASS");
        let p = policy(&with(&[("cache-control", "private, No-Store")]), DAY).unwrap();
        assert!(!p.lookup && !p.store);
        let p = policy(&with(&[("cache-control", "max-age=30")]), DAY).unwrap();
        assert_eq!(p.max_age, Some(30));
        assert!(policy(&with(&[("cache-control", "max-age=soon")]), DAY).is_err());
    }

    #[test]
    fn ttl_and_namespace_are_bounded() {
        let p = policy(&with(&[("x-tollgate-cache-ttl", "60")]), DAY).unwrap();
        assert_eq!(p.ttl, Duration::from_secs(60));
        for bad in ["5", "86401", "-1", "1.5", "x"] {
            assert!(
                policy(&with(&[("x-tollgate-cache-ttl", bad)]), DAY).is_err(),
                "{bad}"
            );
        }
        let p = policy(&with(&[("x-tollgate-cache-namespace", "tenant-7:eu")]), DAY).unwrap();
        assert_eq!(p.scope("proj"), "proj/tenant-7:eu");
        assert_eq!(
            policy(&HeaderMap::new(), DAY).unwrap().scope("proj"),
            "proj"
        );
        for bad in ["", "a/b", "with space", &"x".repeat(65)] {
            assert!(
                policy(&with(&[("x-tollgate-cache-namespace", bad)]), DAY).is_err(),
                "{bad:?}"
            );
        }
    }
}
