//! The HTTP server's connection caps: how many connections are open in all and per client
//! address, the slot each connection holds, and the stream that keeps its slot until it
//! closes (also after an upgrade to a WebSocket).
//!
//! Used by [`crate::http_server`] only: it asks [`Counts::admit`] for a slot on every accepted
//! connection and closes the connection unread when there is none.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client_addr;

/// How often a refusal is logged at most.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// Connection counts, in all and per client address.
pub(crate) struct Counts {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<CountState>,
}

struct CountState {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    refused: u64,
    logged: Option<Instant>,
}

impl Counts {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Self {
        Counts {
            max_total,
            max_per_ip,
            state: Mutex::new(CountState {
                total: 0,
                per_ip: HashMap::new(),
                refused: 0,
                logged: None,
            }),
        }
    }

    /// A slot for a connection from `ip`, or None when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, proxy: bool) -> Option<Slot> {
        let key = (!proxy).then(|| client_addr::client_key(ip));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let per_ip = key.map_or(0, |k| state.per_ip.get(&k).copied().unwrap_or(0));
        if state.total >= self.max_total || per_ip >= self.max_per_ip {
            state.refused += 1;
            let now = Instant::now();
            if state
                .logged
                .is_none_or(|at| now.duration_since(at) >= REFUSAL_LOG_EVERY)
            {
                tracing::warn!(
                    %ip,
                    open = state.total,
                    from_this_address = per_ip,
                    refused_so_far = state.refused,
                    "connection cap reached; closing new connections unread"
                );
                state.logged = Some(now);
            }
            return None;
        }
        state.total += 1;
        if let Some(k) = key {
            *state.per_ip.entry(k).or_insert(0) += 1;
        }
        Some(Slot {
            counts: self.clone(),
            key,
        })
    }
}

/// A counted connection; dropping it frees the slot.
pub(crate) struct Slot {
    counts: Arc<Counts>,
    key: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.counts.state.lock().unwrap_or_else(|p| p.into_inner());
        state.total = state.total.saturating_sub(1);
        if let Some(k) = self.key
            && let Some(n) = state.per_ip.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                state.per_ip.remove(&k);
            }
        }
    }
}

/// A TCP stream that holds its slot for as long as it is open, also after an upgrade hands it
/// to a WebSocket.
pub(crate) struct Counted {
    pub(crate) stream: TcpStream,
    pub(crate) _slot: Slot,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_address_and_in_all_and_free_on_close() {
        let counts = Arc::new(Counts::new(3, 2));
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let a1 = counts.admit(a, false).unwrap();
        let _a2 = counts.admit(a, false).unwrap();
        assert!(counts.admit(a, false).is_none(), "a third from one address");
        let _b1 = counts.admit(b, false).unwrap();
        assert!(counts.admit(b, false).is_none(), "the total is full");
        drop(a1);
        assert!(
            counts.admit(a, false).is_some(),
            "a closed slot is free again"
        );
    }

    #[test]
    fn a_trusted_proxy_is_held_to_the_total_only() {
        let counts = Arc::new(Counts::new(5, 1));
        let proxy: IpAddr = [10, 0, 0, 5].into();
        let slots: Vec<_> = (0..5).map(|_| counts.admit(proxy, true).unwrap()).collect();
        assert!(counts.admit(proxy, true).is_none());
        drop(slots);
        assert_eq!(counts.state.lock().unwrap().total, 0);
    }
}
