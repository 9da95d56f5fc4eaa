//! Per-peer token buckets for inbound requests.
//!
//! Each peer gets a bucket of `per_minute` tokens that refills continuously at `per_minute`
//! tokens a minute; a request takes one token, and a request finding the bucket empty is
//! refused. A bucket that has refilled completely carries no information (a fresh one would be
//! the same), so [`RateLimiter::prune`] drops those: memory stays proportional to the peers
//! active in the last minute.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;

const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The token buckets of every peer that sent requests recently.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: HashMap<PeerId, Bucket>,
}

impl RateLimiter {
    /// `per_minute` requests per peer per minute; `0` allows everything.
    pub(crate) fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute);
        RateLimiter {
            capacity,
            per_second: capacity / WINDOW.as_secs_f64(),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token from `peer`'s bucket; `false` when it is empty.
    pub(crate) fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.capacity == 0.0 {
            return true;
        }
        let bucket = self.refilled(peer, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token if there is one, without refusing anything: for frames that were refused
    /// for other reasons (oversized, malformed) but should still count against the peer.
    pub(crate) fn charge(&mut self, peer: PeerId, now: Instant) {
        let _ = self.allow(peer, now);
    }

    /// Forgets the buckets that are full again.
    pub(crate) fn prune(&mut self, now: Instant) {
        let (capacity, per_second) = (self.capacity, self.per_second);
        self.buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens + elapsed * per_second < capacity
        });
    }

    /// How many peers have a bucket.
    pub(crate) fn tracked(&self) -> usize {
        self.buckets.len()
    }

    fn refilled(&mut self, peer: PeerId, now: Instant) -> &mut Bucket {
        let (capacity, per_second) = (self.capacity, self.per_second);
        let bucket = self.buckets.entry(peer).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        bucket
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_allowance_then_is_refused_until_tokens_refill() {
        let mut limiter = RateLimiter::new(3);
        let peer = PeerId::random();
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow(peer, start)));
        assert!(!limiter.allow(peer, start));
        // One token comes back every 20 seconds.
        assert!(!limiter.allow(peer, start + Duration::from_secs(19)));
        assert!(limiter.allow(peer, start + Duration::from_secs(21)));
        assert!(!limiter.allow(peer, start + Duration::from_secs(22)));
    }

    #[test]
    fn peers_have_separate_buckets() {
        let mut limiter = RateLimiter::new(1);
        let (alice, bob) = (PeerId::random(), PeerId::random());
        let now = Instant::now();
        assert!(limiter.allow(alice, now));
        assert!(!limiter.allow(alice, now));
        assert!(limiter.allow(bob, now));
    }

    #[test]
    fn a_long_pause_refills_only_up_to_the_capacity() {
        let mut limiter = RateLimiter::new(2);
        let peer = PeerId::random();
        let start = Instant::now();
        assert!(limiter.allow(peer, start));
        let later = start + Duration::from_secs(3600);
        assert!(limiter.allow(peer, later));
        assert!(limiter.allow(peer, later));
        assert!(!limiter.allow(peer, later));
    }

    #[test]
    fn charges_count_against_the_allowance() {
        let mut limiter = RateLimiter::new(2);
        let peer = PeerId::random();
        let now = Instant::now();
        limiter.charge(peer, now);
        limiter.charge(peer, now);
        assert!(!limiter.allow(peer, now));
    }

    #[test]
    fn zero_disables_the_limit_and_keeps_no_state() {
        let mut limiter = RateLimiter::new(0);
        let peer = PeerId::random();
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.allow(peer, now)));
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn full_buckets_are_pruned_and_busy_ones_kept() {
        let mut limiter = RateLimiter::new(60);
        let (quiet, busy) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        assert!(limiter.allow(quiet, start));
        for _ in 0..30 {
            assert!(limiter.allow(busy, start + Duration::from_secs(1)));
        }
        limiter.prune(start + Duration::from_millis(500));
        assert_eq!(limiter.tracked(), 2);
        // One token a second: `quiet` is full again after a second, `busy` needs 30.
        limiter.prune(start + Duration::from_secs(5));
        assert_eq!(limiter.tracked(), 1);
        limiter.prune(start + Duration::from_secs(40));
        assert_eq!(limiter.tracked(), 0);
    }
}
