//! Exponential backoff, one type for every retry loop of the node: the federation outbox
//! (`federation/outbox.rs`, with jitter), channel delivery (`messaging/delivery.rs`), the
//! directory registration of our addresses (`node.rs::follow_addresses`) and the directory's
//! libp2p node (`node_reach.rs`).
//!
//! [`Backoff`] is the rule: the wait after `n` failures is `base × 2^min(n, doublings)`, at most
//! `max`, optionally spread by [`Backoff::jittered`]. [`Retrying`] is a loop's running count of
//! failures: each wait is the rule's for the failures so far, and a success starts again.

use std::time::Duration;

/// How long to wait before the next try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    /// The exponent stops growing here (keeps `2^n` in range; `max` usually binds first).
    doublings: u32,
    jitter: bool,
}

impl Backoff {
    /// `base` after no failure, doubling with each one, never more than `max`.
    pub(crate) const fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            doublings: 31,
            jitter: false,
        }
    }

    /// The exponent grows no further than `doublings` (at most 31).
    pub(crate) const fn doublings(self, doublings: u32) -> Self {
        Backoff {
            doublings: if doublings > 31 { 31 } else { doublings },
            ..self
        }
    }

    /// Waits spread over a fifth of their length, from 10 % shorter to 10 % longer, at
    /// millisecond precision and at least 1 ms, so that many nodes do not retry in lockstep.
    pub(crate) const fn jittered(self) -> Self {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The wait after `failures` failures.
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        if !self.jitter {
            return self.exponential(failures);
        }
        let random = ochat_protocol::random::random_bytes::<2>()
            .map(u16::from_be_bytes)
            .ok();
        self.spread(failures, random)
    }

    /// `base × 2^min(failures, doublings)`, at most `max`.
    fn exponential(&self, failures: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << failures.min(self.doublings))
            .min(self.max)
    }

    /// The jittered wait for a given random draw (none: the shortest of the spread).
    fn spread(&self, failures: u32, random: Option<u16>) -> Duration {
        let exp = u64::try_from(self.exponential(failures).as_millis()).unwrap_or(u64::MAX);
        let jitter = random.map_or(0, |r| u64::from(r) % (exp / 5 + 1));
        Duration::from_millis((exp - exp / 10 + jitter).max(1))
    }

    /// A running count of failures under this rule.
    pub(crate) const fn start(self) -> Retrying {
        Retrying {
            backoff: self,
            failures: 0,
        }
    }
}

/// A retry loop's failures so far.
#[derive(Debug, Clone)]
pub(crate) struct Retrying {
    backoff: Backoff,
    failures: u32,
}

impl Retrying {
    /// Counts a failure and answers how long to wait before the next try: the rule's wait for
    /// the failures before this one (the first failure waits `base`).
    pub(crate) fn failed(&mut self) -> Duration {
        let wait = self.backoff.delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// A success: the next failure waits `base` again.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_wait_doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::new(ms(250), Duration::from_secs(30));
        let waits: Vec<u64> = (0..10).map(|n| b.delay(n).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn the_exponent_stops_at_its_doublings() {
        let b = Backoff::new(ms(1), Duration::MAX).doublings(3);
        assert_eq!(b.delay(3), ms(8));
        assert_eq!(b.delay(4), ms(8));
        assert_eq!(b.delay(1000), ms(8));
    }

    #[test]
    fn a_huge_base_saturates_instead_of_overflowing() {
        let b = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(b.delay(40), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_ten_percent_of_the_wait() {
        let b = Backoff::new(ms(1000), Duration::from_secs(60)).jittered();
        // 2000 ms: from 1800 ms (no randomness) to 2200 ms (the top of the spread).
        assert_eq!(b.spread(1, None), ms(1800));
        assert_eq!(b.spread(1, Some(0)), ms(1800));
        assert_eq!(b.spread(1, Some(400)), ms(2200));
        assert_eq!(b.spread(1, Some(401)), ms(1800));
        for _ in 0..200 {
            let wait = b.delay(1);
            assert!(wait >= ms(1800) && wait <= ms(2200), "{wait:?}");
        }
    }

    #[test]
    fn a_jittered_wait_is_never_zero() {
        let b = Backoff::new(Duration::ZERO, Duration::from_secs(1)).jittered();
        assert_eq!(b.delay(0), ms(1));
    }

    /// The three loops' waits as they were written before they shared this type (copied from
    /// `federation/outbox.rs`, `messaging/delivery.rs` and `node.rs` at 5b85863): the rules
    /// their callers now build must give the same waits for every count of failures.
    #[test]
    fn each_caller_keeps_the_waits_it_had() {
        let outbox_before = |base: u64, max: u64, attempts: u32, random: Option<u16>| -> u64 {
            let exp = base.saturating_mul(1u64 << attempts.min(20)).min(max);
            let jitter = random.map(|r| r as u64 % (exp / 5 + 1)).unwrap_or(0);
            (exp - exp / 10 + jitter).max(1)
        };
        let delivery_before = |base: Duration, max: Duration, attempts: u32| -> Duration {
            base.saturating_mul(1u32 << attempts.min(16)).min(max)
        };
        for (base, max) in [(1_000u64, 300_000u64), (250, 30_000), (7, 3_600_000)] {
            let outbox = Backoff::new(ms(base), ms(max)).doublings(20).jittered();
            let delivery = Backoff::new(ms(base), ms(max)).doublings(16);
            for attempts in (0..40).chain([u32::MAX]) {
                for random in [None, Some(0), Some(1), Some(4_321), Some(u16::MAX)] {
                    assert_eq!(
                        outbox.spread(attempts, random).as_millis() as u64,
                        outbox_before(base, max, attempts, random)
                    );
                }
                assert_eq!(
                    delivery.delay(attempts),
                    delivery_before(ms(base), ms(max), attempts)
                );
            }
        }
        // follow_addresses: 200 ms, doubled after each failure up to 30 s, reset on success.
        let mut delay = ms(200);
        let mut retry = Backoff::new(ms(200), Duration::from_secs(30)).start();
        for _ in 0..20 {
            assert_eq!(retry.failed(), delay);
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }

    #[test]
    fn a_retry_loop_waits_longer_after_each_failure_and_starts_again_after_a_success() {
        let mut retry = Backoff::new(ms(200), Duration::from_secs(30)).start();
        let waits: Vec<u64> = (0..10).map(|_| retry.failed().as_millis() as u64).collect();
        assert_eq!(
            waits,
            [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
        );
        retry.succeeded();
        assert_eq!(retry.failed(), ms(200));
    }
}
