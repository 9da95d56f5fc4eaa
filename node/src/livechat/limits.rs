//! Limits on what anonymous visitors can make the node do: token buckets keyed by client
//! address (IPv6 by /64) or visitor id, kept in bounded tables, read against the live chat's
//! [`Clock`](super::Clock) so tests move time instead of waiting.
//!
//! Used by [`sessions`](super::sessions) (new sessions per address and per visitor id) and by
//! the chatbot runtime (leads and tickets a chatbot creates, per address), and by the offline
//! form (messages per address). The sizes and rates
//! are the constants below; docs/security.md explains them.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// New sessions one address may start at once (a burst), then [`SESSION_REFILL_MS`] each.
pub const SESSIONS_PER_ADDRESS: u32 = 60;
/// One more session per address every 10 seconds (6 a minute).
pub const SESSION_REFILL_MS: u64 = 10_000;
/// New sessions one visitor id may start at once, then one per [`VISITOR_REFILL_MS`].
pub const SESSIONS_PER_VISITOR: u32 = 10;
/// One more session per visitor id every minute.
pub const VISITOR_REFILL_MS: u64 = 60_000;
/// Leads and tickets chatbots may create for one address at once, then one per
/// [`RECORD_REFILL_MS`].
pub const BOT_RECORDS_PER_ADDRESS: u32 = 10;
/// One more chatbot record per address every 6 minutes (10 an hour).
pub const RECORD_REFILL_MS: u64 = 360_000;
/// Leads and tickets a chatbot may create in one session (restarting the script included).
pub const BOT_RECORDS_PER_SESSION: u32 = 2;
/// Offline-form messages one address may send at once, then one per [`OFFLINE_REFILL_MS`].
pub const OFFLINE_PER_ADDRESS: u32 = 5;
/// One more offline-form message per address every 10 minutes (6 an hour).
pub const OFFLINE_REFILL_MS: u64 = 600_000;
/// Keys one table remembers; past this the stalest half is forgotten.
pub const MAX_KEYS: usize = 50_000;

/// Where a request comes from, as a rate-limit key: IPv4 addresses whole, IPv6 by their /64
/// (one subscriber usually holds a whole /64).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in thousandths (so refills need no floats).
    milli: u64,
    /// Last refill (ms).
    at_ms: u64,
}

/// Token buckets by key: `burst` tokens, one more every `refill_ms`.
#[derive(Debug)]
pub struct Limiter<K> {
    burst: u32,
    refill_ms: u64,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter allowing `burst` at once, then one per `refill_ms`.
    pub fn new(burst: u32, refill_ms: u64) -> Self {
        Limiter {
            burst,
            refill_ms: refill_ms.max(1),
            buckets: HashMap::new(),
        }
    }

    fn refilled(&self, b: Bucket, now: u64) -> Bucket {
        let full = u64::from(self.burst) * 1000;
        let gained = now.saturating_sub(b.at_ms).saturating_mul(1000) / self.refill_ms;
        Bucket {
            milli: b.milli.saturating_add(gained).min(full),
            at_ms: now,
        }
    }

    /// Whether `key` may act now, without taking a token: `Err(seconds to wait)` when not.
    pub fn check(&self, key: &K, now: u64) -> Result<(), u64> {
        match self.buckets.get(key) {
            Some(b) if self.refilled(*b, now).milli < 1000 => {
                let missing = 1000 - self.refilled(*b, now).milli;
                Err((missing * self.refill_ms)
                    .div_ceil(1000)
                    .div_ceil(1000)
                    .max(1))
            }
            _ => Ok(()),
        }
    }

    /// Takes one token for `key` (after [`check`](Self::check) said yes).
    pub fn take(&mut self, key: K, now: u64) {
        if !self.buckets.contains_key(&key) && self.buckets.len() >= MAX_KEYS {
            self.forget_stalest();
        }
        let full = Bucket {
            milli: u64::from(self.burst) * 1000,
            at_ms: now,
        };
        let b = self.buckets.get(&key).copied().unwrap_or(full);
        let mut b = self.refilled(b, now);
        b.milli = b.milli.saturating_sub(1000);
        self.buckets.insert(key, b);
    }

    /// Checks and takes in one go.
    pub fn hit(&mut self, key: K, now: u64) -> Result<(), u64> {
        self.check(&key, now)?;
        self.take(key, now);
        Ok(())
    }

    /// Forgets the half of the keys seen longest ago (a full bucket is forgotten first, as a
    /// forgotten key starts full again).
    fn forget_stalest(&mut self) {
        let mut ages: Vec<u64> = self.buckets.values().map(|b| b.at_ms).collect();
        ages.sort_unstable();
        let cut = ages.get(ages.len() / 2).copied().unwrap_or(0);
        self.buckets.retain(|_, b| b.at_ms > cut);
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// Every limiter of the live chat, kept in its in-memory state.
#[derive(Debug)]
pub struct Limits {
    /// New sessions per address.
    pub sessions_by_address: Limiter<IpAddr>,
    /// New sessions per visitor id.
    pub sessions_by_visitor: Limiter<String>,
    /// Chatbot leads and tickets per address.
    pub records_by_address: Limiter<IpAddr>,
    /// Offline-form messages per address ([`super::offline`]).
    pub offline_by_address: Limiter<IpAddr>,
}

/// The rates of [`Limits`] (defaults: the constants above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorLimits {
    /// New sessions per address at once.
    pub sessions_per_address: u32,
    /// Then one more every this many ms.
    pub session_refill_ms: u64,
    /// New sessions per visitor id at once.
    pub sessions_per_visitor: u32,
    /// Then one more every this many ms.
    pub visitor_refill_ms: u64,
    /// Chatbot leads and tickets per address at once.
    pub bot_records_per_address: u32,
    /// Then one more every this many ms.
    pub record_refill_ms: u64,
}

impl Default for VisitorLimits {
    fn default() -> Self {
        VisitorLimits {
            sessions_per_address: SESSIONS_PER_ADDRESS,
            session_refill_ms: SESSION_REFILL_MS,
            sessions_per_visitor: SESSIONS_PER_VISITOR,
            visitor_refill_ms: VISITOR_REFILL_MS,
            bot_records_per_address: BOT_RECORDS_PER_ADDRESS,
            record_refill_ms: RECORD_REFILL_MS,
        }
    }
}

impl Limits {
    /// Limiters with these rates.
    pub fn new(r: VisitorLimits) -> Self {
        Limits {
            sessions_by_address: Limiter::new(r.sessions_per_address, r.session_refill_ms),
            sessions_by_visitor: Limiter::new(r.sessions_per_visitor, r.visitor_refill_ms),
            records_by_address: Limiter::new(r.bot_records_per_address, r.record_refill_ms),
            offline_by_address: Limiter::new(OFFLINE_PER_ADDRESS, OFFLINE_REFILL_MS),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(VisitorLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill_period_with_the_wait_in_seconds() {
        let mut l: Limiter<u8> = Limiter::new(3, 10_000);
        for _ in 0..3 {
            assert_eq!(l.hit(1, 1_000), Ok(()));
        }
        assert_eq!(l.hit(1, 1_000), Err(10));
        assert_eq!(l.hit(1, 6_000), Err(5));
        assert_eq!(l.hit(2, 6_000), Ok(()), "another key has its own bucket");
        assert_eq!(l.hit(1, 11_000), Ok(()));
        assert_eq!(l.hit(1, 11_000), Err(10));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut l: Limiter<usize> = Limiter::new(1, 1_000);
        for k in 0..(MAX_KEYS + 10) {
            l.take(k, k as u64);
        }
        assert!(l.len() <= MAX_KEYS);
        assert!(l.check(&(MAX_KEYS + 9), MAX_KEYS as u64 + 9).is_err());
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(address_key(a), address_key(b));
        let v4: IpAddr = IpAddr::from([192, 0, 2, 1]);
        assert_eq!(address_key(v4), v4);
    }
}
