//! The directory's per-client rate limit: a token bucket per client address.
//!
//! IPv4 clients count one by one, IPv6 clients by /64 (the block one subscriber usually gets),
//! so one host cannot dodge the limit by rotating through its own addresses. The table of
//! buckets is bounded: when it is full, buckets that have refilled completely are dropped (a new
//! bucket starts full, so they carry no information), and if that is not enough the table
//! starts over, which errs on the side of letting clients through.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many client buckets the limiter keeps before it prunes.
const MAX_TRACKED_CLIENTS: usize = 10_000;
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
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
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

    /// Takes a token for `ip`, or says how long until one is available.
    pub(crate) fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            // Full buckets carry no information: a new bucket starts full.
            let burst = f64::from(self.limit.burst);
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
            if buckets.len() >= MAX_TRACKED_CLIENTS {
                buckets.clear();
            }
        }
        let full = Bucket {
            tokens: f64::from(self.limit.burst),
            at: now,
        };
        let bucket = buckets.entry(client).or_insert(full);
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

/// IPv4 addresses count one by one; IPv6 ones by /64, the block one subscriber usually has.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
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
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
    }

    #[test]
    fn the_table_of_clients_stays_bounded() {
        let limiter = Limiter::new(RateLimit {
            burst: 5,
            per_minute: 60,
        });
        let fill = |at: Instant| {
            for n in 0..MAX_TRACKED_CLIENTS as u32 - 1 {
                assert!(limiter.check(IpAddr::from(n.to_be_bytes()), at).is_ok());
            }
        };
        let t0 = Instant::now();
        fill(t0);
        assert!(limiter.check([198, 51, 100, 1].into(), t0).is_ok());
        assert_eq!(limiter.tracked(), MAX_TRACKED_CLIENTS);
        // Everyone is still counting: rather than grow, the table starts over.
        assert!(limiter.check([198, 51, 100, 2].into(), t0).is_ok());
        assert_eq!(limiter.tracked(), 1);
        // Once they have all refilled, a new client prunes them instead.
        fill(t0);
        assert_eq!(limiter.tracked(), MAX_TRACKED_CLIENTS);
        let later = t0 + Duration::from_secs(60);
        assert!(limiter.check([198, 51, 100, 3].into(), later).is_ok());
        assert_eq!(limiter.tracked(), 1);
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
