//! The live chat's sense of time. Presence (30 minutes), busyness (15/30 minutes), the
//! "assigned in the last 2 minutes" rule and a returning visitor's week all read a [`Clock`],
//! so tests swap in a [`TestClock`] and advance it instead of waiting.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::now_ms;

/// A source of "now", in milliseconds since the Unix epoch.
pub trait Clock: Debug + Send + Sync {
    /// The current time (ms).
    fn now_ms(&self) -> u64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// A clock that follows the wall clock plus an offset the test moves forward.
#[derive(Debug, Default)]
pub struct TestClock {
    offset_ms: AtomicU64,
    /// When set, the clock stands still at this time (plus the offset) instead of following
    /// the wall clock: reports group by day and hour and need exact times.
    fixed_ms: Option<u64>,
}

impl TestClock {
    /// A test clock at the current wall-clock time.
    pub fn new() -> Self {
        TestClock::default()
    }

    /// A clock that stands at `ms` (since the Unix epoch) and moves only when advanced.
    pub fn fixed_at(ms: u64) -> Self {
        TestClock {
            offset_ms: AtomicU64::new(0),
            fixed_ms: Some(ms),
        }
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `minutes`.
    pub fn advance_minutes(&self, minutes: u64) {
        self.advance_ms(minutes * 60_000);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.fixed_ms
            .unwrap_or_else(now_ms)
            .saturating_add(self.offset_ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_only_forward_by_what_the_test_says() {
        let clock = TestClock::new();
        let before = clock.now_ms();
        clock.advance_minutes(31);
        let after = clock.now_ms();
        assert!(after >= before + 31 * 60_000);
        assert!(after < before + 32 * 60_000);
    }

    #[test]
    fn the_system_clock_is_the_wall_clock() {
        let a = now_ms();
        let b = SystemClock.now_ms();
        assert!(b >= a && b - a < 5_000);
    }
}
