//! The HTTP server's connection caps: how many connections are open in all and per client
//! address, the slot each connection holds, and the stream that keeps its slot until it
//! closes (also after an upgrade to a WebSocket).
//!
//! An address at its own cap is refused. When the total cap is reached, the oldest connection
//! that is not answering a request (idle, or still sending its headers) is closed to make
//! room; only when every connection is busy is the newcomer refused. So many addresses
//! together cannot hold the server with half-sent requests either.
//!
//! Used by [`crate::http_server`] only: it asks [`Counts::admit`] for a slot on every accepted
//! connection and closes the connection unread when there is none; its connection task
//! watches [`Slot::watch`] for the request to close.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

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
    next_id: u64,
    /// Open connections, oldest first.
    open: BTreeMap<u64, Arc<ConnWatch>>,
}

/// What the caps and a connection's task share about it.
pub(crate) struct ConnWatch {
    /// Requests being answered (until their response body is sent).
    pub(crate) busy: AtomicUsize,
    /// Whether the connection task still runs it (false once upgraded or ended).
    pub(crate) serving: AtomicBool,
    /// Signalled when the caps close it to make room.
    pub(crate) evict: Notify,
    /// Whether its counts were given back already.
    released: AtomicBool,
    key: Option<IpAddr>,
}

impl ConnWatch {
    fn idle(&self) -> bool {
        self.serving.load(Ordering::SeqCst)
            && self.busy.load(Ordering::SeqCst) == 0
            && !self.released.load(Ordering::SeqCst)
    }
}

impl CountState {
    fn release(&mut self, watch: &ConnWatch) {
        if watch.released.swap(true, Ordering::SeqCst) {
            return;
        }
        self.total = self.total.saturating_sub(1);
        if let Some(k) = watch.key
            && let Some(n) = self.per_ip.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&k);
            }
        }
    }

    /// Closes the oldest idle connection; false if every one is busy.
    fn evict_oldest_idle(&mut self) -> bool {
        let Some(id) = self.open.iter().find(|(_, w)| w.idle()).map(|(id, _)| *id) else {
            return false;
        };
        if let Some(watch) = self.open.remove(&id) {
            self.release(&watch);
            watch.evict.notify_one();
        }
        true
    }
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
                next_id: 0,
                open: BTreeMap::new(),
            }),
        }
    }

    /// A slot for a connection from `ip`, or None when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, proxy: bool) -> Option<Slot> {
        let key = (!proxy).then(|| client_addr::client_key(ip));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let per_ip = key.map_or(0, |k| state.per_ip.get(&k).copied().unwrap_or(0));
        let full = per_ip >= self.max_per_ip
            || (state.total >= self.max_total && !state.evict_oldest_idle());
        if full {
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
        let id = state.next_id;
        state.next_id += 1;
        let watch = Arc::new(ConnWatch {
            busy: AtomicUsize::new(0),
            serving: AtomicBool::new(true),
            evict: Notify::new(),
            released: AtomicBool::new(false),
            key,
        });
        state.open.insert(id, watch.clone());
        Some(Slot {
            counts: self.clone(),
            id,
            watch,
        })
    }
}

/// A counted connection; dropping it frees the slot.
pub(crate) struct Slot {
    counts: Arc<Counts>,
    id: u64,
    watch: Arc<ConnWatch>,
}

impl Slot {
    /// What the connection's task watches and reports.
    pub(crate) fn watch(&self) -> Arc<ConnWatch> {
        self.watch.clone()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.counts.state.lock().unwrap_or_else(|p| p.into_inner());
        state.open.remove(&self.id);
        state.release(&self.watch);
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

    /// A slot whose connection is answering a request.
    fn busy(slot: Slot) -> Slot {
        slot.watch().busy.fetch_add(1, Ordering::SeqCst);
        slot
    }

    #[test]
    fn caps_count_per_address_and_in_all_and_free_on_close() {
        let counts = Arc::new(Counts::new(3, 2));
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let a1 = busy(counts.admit(a, false).unwrap());
        let _a2 = busy(counts.admit(a, false).unwrap());
        assert!(counts.admit(a, false).is_none(), "a third from one address");
        let _b1 = busy(counts.admit(b, false).unwrap());
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
        let slots: Vec<_> = (0..5)
            .map(|_| busy(counts.admit(proxy, true).unwrap()))
            .collect();
        assert!(counts.admit(proxy, true).is_none());
        drop(slots);
        assert_eq!(counts.state.lock().unwrap().total, 0);
    }

    #[test]
    fn when_all_are_taken_the_oldest_idle_connection_makes_room() {
        let counts = Arc::new(Counts::new(3, 10));
        let ip = |n: u8| IpAddr::from([192, 0, 2, n]);
        let answering = busy(counts.admit(ip(1), false).unwrap());
        let upgraded = counts.admit(ip(2), false).unwrap();
        upgraded.watch().serving.store(false, Ordering::SeqCst);
        let idle = counts.admit(ip(3), false).unwrap();
        let newcomer = counts.admit(ip(4), false).unwrap();
        assert!(
            idle.watch().released.load(Ordering::SeqCst),
            "the idle one went"
        );
        assert_eq!(counts.state.lock().unwrap().total, 3);
        drop(idle);
        assert_eq!(counts.state.lock().unwrap().total, 3, "counted once");
        let newcomer = busy(newcomer);
        assert!(
            counts.admit(ip(5), false).is_none(),
            "a busy request and a WebSocket are never closed to make room"
        );
        drop((answering, upgraded, newcomer));
        assert_eq!(counts.state.lock().unwrap().total, 0);
    }
}
