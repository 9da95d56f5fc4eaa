//! The directory's per-client rate limit: a token bucket per client address.
//!
//! IPv4 clients count one by one, IPv6 clients by /64 (the block one subscriber usually gets),
//! so one host cannot dodge the limit by rotating through its own addresses. The client is the
//! one [`crate::http_server`] put in `ConnectInfo` (a trusted proxy's forwarded client, else
//! the peer).
//!
//! The table of buckets is a bounded LRU. When it is full, a new client takes the place of one
//! of the [`EVICTION_SAMPLE`] least recently seen: one whose bucket has refilled (a new bucket
//! starts full, so it carries no information), else the one closest to full. A client that is
//! being limited has an empty bucket and is the last to go, so a flood of new addresses cannot
//! reset a known abuser's bucket.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LruCache;

use crate::client_addr::client_key;

/// How many client buckets the limiter keeps (about 100 bytes each).
const MAX_TRACKED_CLIENTS: usize = 65_536;
/// How many of the least recently seen clients are looked at to pick one to forget.
const EVICTION_SAMPLE: usize = 16;
/// The longest wait ever announced.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// How many requests one client may make: a burst, refilled at a steady rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed back to back.
    pub burst: u32,
    /// Requests regained per minute.
    pub per_minute: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 60,
            per_minute: 300,
        }
    }
}

/// Token buckets per client address.
pub(crate) struct Limiter {
    limit: RateLimit,
    capacity: usize,
    buckets: Mutex<LruCache<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_TRACKED_CLIENTS)
    }

    fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Limiter {
            limit,
            capacity,
            // Eviction is ours (see `make_room`); the cache itself never drops anything.
            buckets: Mutex::new(LruCache::new_unbounded()),
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }

    fn per_second(&self) -> f64 {
        f64::from(self.limit.per_minute) / 60.0
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second()).min(f64::from(self.limit.burst))
    }

    /// Forgets one of the least recently seen clients: a refilled one, else the fullest.
    fn make_room(&self, buckets: &mut LruCache<IpAddr, Bucket>, now: Instant) {
        let burst = f64::from(self.limit.burst);
        let mut victim: Option<(IpAddr, f64)> = None;
        for (client, bucket) in buckets.iter().take(EVICTION_SAMPLE) {
            let tokens = self.refilled(*bucket, now);
            if tokens >= burst {
                victim = Some((*client, tokens));
                break;
            }
            if victim.is_none_or(|(_, best)| tokens > best) {
                victim = Some((*client, tokens));
            }
        }
        if let Some((client, _)) = victim {
            buckets.remove(&client);
        }
    }

    /// Takes a token for `ip`, or says how long until one is available.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&client) {
            while buckets.len() >= self.capacity {
                self.make_room(&mut buckets, now);
            }
            buckets.insert(
                client,
                Bucket {
                    tokens: f64::from(self.limit.burst),
                    at: now,
                },
            );
        }
        let Some(bucket) = buckets.get_mut(&client) else {
            return Ok(());
        };
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            let rate = self.per_second();
            Err(if rate > 0.0 {
                Duration::from_secs_f64((1.0 - tokens) / rate).min(MAX_WAIT)
            } else {
                MAX_WAIT
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let limiter = Limiter::new(RateLimit {
            burst: 2,
            per_minute: 60,
        });
        let ip: IpAddr = [192, 0, 2, 1].into();
        let t0 = Instant::now();
        assert!(limiter.check(ip, t0).is_ok());
        assert!(limiter.check(ip, t0).is_ok());
        let wait = limiter.check(ip, t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(
            limiter.check([192, 0, 2, 2].into(), t0).is_ok(),
            "others are not affected"
        );
        assert!(limiter.check(ip, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn ipv6_clients_of_one_subscriber_share_a_bucket() {
        let limiter = Limiter::new(RateLimit {
            burst: 1,
            per_minute: 1,
        });
        let t0 = Instant::now();
        assert!(
            limiter
                .check("2001:db8:1:2::1".parse().unwrap(), t0)
                .is_ok()
        );
        assert!(
            limiter
                .check("2001:db8:1:2:ffff::9".parse().unwrap(), t0)
                .is_err()
        );
        assert!(
            limiter
                .check("2001:db8:1:3::1".parse().unwrap(), t0)
                .is_ok()
        );
    }

    /// An abuser drains their bucket; then 20,000 other addresses pass by once each.
    fn flood_after_abuse(limiter: &Limiter, abuser: IpAddr, t0: Instant) {
        while limiter.check(abuser, t0).is_ok() {}
        for n in 0..20_000u32 {
            let other = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
            assert!(limiter.check(other, t0).is_ok());
        }
    }

    #[test]
    fn a_flood_of_new_addresses_does_not_reset_an_abusers_bucket() {
        let limiter = Limiter::new(RateLimit::default());
        let abuser: IpAddr = [203, 0, 113, 66].into();
        let t0 = Instant::now();
        flood_after_abuse(&limiter, abuser, t0);
        assert!(
            limiter.check(abuser, t0).is_err(),
            "the abuser is still limited"
        );
        assert!(limiter.tracked() <= MAX_TRACKED_CLIENTS);
    }

    #[test]
    fn a_full_table_forgets_the_clients_with_the_least_to_remember() {
        let limiter = Limiter::with_capacity(RateLimit::default(), 100);
        let abuser: IpAddr = [203, 0, 113, 66].into();
        let t0 = Instant::now();
        flood_after_abuse(&limiter, abuser, t0);
        assert_eq!(limiter.tracked(), 100, "the table stays bounded");
        assert!(
            limiter.check(abuser, t0).is_err(),
            "the least recently seen, but limited, abuser was kept"
        );
        // Once everyone has refilled, a new client still finds room, and the abuser's wait
        // is over like anyone's.
        let later = t0 + Duration::from_secs(60);
        assert!(limiter.check([198, 51, 100, 1].into(), later).is_ok());
        assert_eq!(limiter.tracked(), 100);
        assert!(limiter.check(abuser, later).is_ok(), "refilled by now");
    }

    #[test]
    fn a_zero_rate_never_refills_and_says_so() {
        let limiter = Limiter::new(RateLimit {
            burst: 1,
            per_minute: 0,
        });
        let ip: IpAddr = [192, 0, 2, 1].into();
        let t0 = Instant::now();
        assert!(limiter.check(ip, t0).is_ok());
        assert_eq!(limiter.check(ip, t0 + MAX_WAIT), Err(MAX_WAIT));
    }
}
