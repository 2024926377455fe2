//! The response cache: whole successful answers, keyed by project and everything in the
//! request that can change the answer. In memory (moka, bounded by size), behind a trait so a
//! shared store can replace it for replicas.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use moka::future::Cache;
use moka::Expiry;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::providers::Usage;

/// A whole answer as the bytes sent to the client (so a hit is served without serializing),
/// with its usage.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub body: Bytes,
    pub usage: Usage,
}

pub trait ResponseCache: Send + Sync {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<CachedAnswer>>;
    fn put(&self, key: String, answer: CachedAnswer, ttl: Duration) -> BoxFuture<'_, ()>;
}

#[derive(Clone)]
struct Entry {
    answer: CachedAnswer,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct MemoryCache(Cache<String, Entry>);

impl MemoryCache {
    pub fn new(max_bytes: u64) -> Self {
        Self(
            Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, e: &Entry| {
                    u32::try_from(k.len() + e.answer.body.len()).unwrap_or(u32::MAX)
                })
                .expire_after(PerEntryTtl)
                .build(),
        )
    }
}

impl ResponseCache for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<CachedAnswer>> {
        Box::pin(async move { self.0.get(key).await.map(|e| e.answer) })
    }

    fn put(&self, key: String, answer: CachedAnswer, ttl: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.insert(key, Entry { answer, ttl }).await;
        })
    }
}

/// Fields that do not change the answer: how it is delivered, and who asked.
const IGNORED: &[&str] = &["stream", "stream_options", "user"];

/// The cache key: the project, the endpoint and the request in canonical form.
pub fn key(project_id: &str, endpoint: &str, body: &Value) -> String {
    let mut canonical = String::new();
    if let Some(map) = body.as_object() {
        let mut fields: Vec<_> = map
            .iter()
            .filter(|(k, _)| !IGNORED.contains(&k.as_str()))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in fields {
            canonical.push_str(k);
            canonical.push('=');
            write_canonical(v, &mut canonical);
            canonical.push('\n');
        }
    }
    let digest = Sha256::digest(canonical.as_bytes());
    format!("{project_id}:{endpoint}:{}", hex::encode(digest))
}

/// JSON with object keys sorted at every level, so equal requests give equal text.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_ignore_delivery_and_order_but_not_content_or_project() {
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2});
        let b = json!({"temperature": 0.2, "stream": true, "user": "u", "messages": [{"content": "hi", "role": "user"}], "model": "m"});
        assert_eq!(key("p", "chat", &a), key("p", "chat", &b));
        assert_ne!(key("p", "chat", &a), key("q", "chat", &a));
        let c = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3});
        assert_ne!(key("p", "chat", &a), key("p", "chat", &c));
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let cache = MemoryCache::new(1 << 20);
        let answer = CachedAnswer {
            body: Bytes::from_static(b"{}"),
            usage: Usage::default(),
        };
        cache
            .put("k".into(), answer, Duration::from_millis(50))
            .await;
        assert!(cache.get("k").await.is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(cache.get("k").await.is_none());
    }
}
