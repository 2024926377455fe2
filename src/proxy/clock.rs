//! The proxy's clock: the system's, plus an offset that only tests move (to cross a budget
//! period without waiting for it).

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// Unix seconds.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Unix microseconds.
    pub fn now_micros(&self) -> i64 {
        let offset = self.offset_secs.load(Ordering::Relaxed);
        chrono::Utc::now().timestamp_micros() + offset * 1_000_000
    }

    /// Moves this clock `secs` ahead of the system's (tests).
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}
