//! The response cache: whole successful answers, keyed by project and everything in the
//! request that can change the answer. In memory (moka, bounded by size), behind a trait so a
//! shared store can replace it for replicas.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use moka::future::Cache;
use moka::Expiry;

use super::providers::Usage;

/// A whole answer as the bytes sent to the client (so a hit is served without serializing),
/// with its usage.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub body: Bytes,
    pub usage: Usage,
    /// When it was stored (Unix seconds, the proxy's clock): its `Age`, and what `max-age`
    /// compares.
    pub stored_at: i64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let cache = MemoryCache::new(1 << 20);
        let answer = CachedAnswer {
            body: Bytes::from_static(b"{}"),
            usage: Usage::default(),
            stored_at: 0,
        };
        cache
            .put("k".into(), answer, Duration::from_millis(50))
            .await;
        assert!(cache.get("k").await.is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(cache.get("k").await.is_none());
    }
}
