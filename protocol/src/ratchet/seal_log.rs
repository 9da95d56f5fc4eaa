//! Test hook (feature `seal-log`, enabled only by the `ochat-tests` crate): a process-wide log
//! of every (message key, nonce) pair sealed, so an integration test can check that no key
//! and no (key, nonce) pair is ever used twice, across nodes running in one process.
//!
//! Off until [`start`] is called; the key is recorded as its SHA-256, never as such. A process
//! that another one watches (a real `ochat` killed with `kill -9` by a test) hands each pair to
//! a sink instead ([`start_sink`]), which writes it out before the message can leave.

use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::NONCE_LEN;

/// One sealed message: SHA-256 of its message key, and its nonce.
pub type SealedPair = ([u8; 32], [u8; NONCE_LEN]);

static LOG: Mutex<Option<Vec<SealedPair>>> = Mutex::new(None);

/// Where each pair goes when a sink is set.
type Sink = Box<dyn Fn(&SealedPair) + Send + Sync>;

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Hands every pair sealed from now on to `sink` (at the moment of sealing), as well as to
/// the log if it was started.
pub fn start_sink(sink: impl Fn(&SealedPair) + Send + Sync + 'static) {
    match SINK.lock() {
        Ok(mut s) => *s = Some(Box::new(sink)),
        Err(poisoned) => *poisoned.into_inner() = Some(Box::new(sink)),
    }
}

fn with<R>(f: impl FnOnce(&mut Option<Vec<SealedPair>>) -> R) -> R {
    match LOG.lock() {
        Ok(mut log) => f(&mut log),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// Starts recording (and forgets what was recorded before).
pub fn start() {
    with(|log| *log = Some(Vec::new()));
}

/// Everything sealed since [`start`], in order (empty when not started).
pub fn snapshot() -> Vec<SealedPair> {
    with(|log| log.clone().unwrap_or_default())
}

pub(super) fn record(key: &[u8; 32], nonce: &[u8; NONCE_LEN]) {
    let pair: SealedPair = (Sha256::digest(key).into(), *nonce);
    with(|log| {
        if let Some(log) = log {
            log.push(pair);
        }
    });
    let sink = match SINK.lock() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(sink) = sink.as_ref() {
        sink(&pair);
    }
}
