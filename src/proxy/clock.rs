//! The proxy's clock: the system's, plus an offset that only tests move (to cross a budget
//! period without waiting for it), and a pin that only tests set (so an answer's `Age` does
//! not depend on whether a second of real time ended between two requests).

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
    /// Unix seconds the clock stands still at; 0 follows the system's.
    pinned_secs: AtomicI64,
}

impl Clock {
    /// Unix seconds.
    pub fn now(&self) -> i64 {
        self.base_micros() / 1_000_000 + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Unix microseconds.
    pub fn now_micros(&self) -> i64 {
        let offset = self.offset_secs.load(Ordering::Relaxed);
        self.base_micros() + offset.saturating_mul(1_000_000)
    }

    fn base_micros(&self) -> i64 {
        match self.pinned_secs.load(Ordering::Relaxed) {
            0 => chrono::Utc::now().timestamp_micros(),
            pinned => pinned.saturating_mul(1_000_000),
        }
    }

    /// Moves this clock `secs` ahead of the system's (tests).
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Stops this clock at the system's present second; only `advance` moves it after (tests).
    pub fn pin(&self) {
        let now = chrono::Utc::now().timestamp();
        self.pinned_secs.store(now, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_pinned_clock_moves_only_when_advanced() {
        let clock = Clock::default();
        clock.pin();
        let start = clock.now();
        assert_eq!(clock.now_micros(), start * 1_000_000);
        clock.advance(30);
        assert_eq!(clock.now(), start + 30);
    }
}
