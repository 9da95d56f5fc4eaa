//! The review's findings against the ratchet (issue 33): a rolled-back state must never repeat
//! a (key, nonce) pair, a repeated header with new contents is reported as such, old-format
//! messages still open, and skipped keys are bounded per chain, per store and in time.

use std::collections::HashSet;

use super::header::associated_data;
use super::keys::{kdf_ck, recorder};
use super::tests::{Peer, ad, channel, reads, rejected_without_change};
use super::*;

/// Seals a construction-2 message, as earlier versions did.
impl Ratchet {
    fn seal_construction_2(&mut self, plaintext: &[u8], ad: &[u8]) -> Result<Sealed, RatchetError> {
        let sending = &self.chains.sending;
        let header = Header {
            dh: *sending.pair.public(),
            prev_chain_len: self.chains.previous_sending_len,
            n: sending.n,
        };
        let (next_chain, key) = kdf_ck(&sending.chain)?;
        let ciphertext =
            key.seal_construction_2(plaintext, associated_data(ad, &header).as_slice())?;
        self.chains.sending.chain = next_chain;
        self.chains.sending.n += 1;
        Ok(Sealed {
            header,
            ciphertext,
            nonce: None,
        })
    }
}

const T0: u64 = 1_800_000_000_000;

fn open_at(bob: &mut Peer, from: &Peer, sealed: &Sealed, now: u64) -> Result<String, RatchetError> {
    let plain = bob
        .ratchet
        .open_at(sealed, &ad(from.name), &mut bob.keys, now)?;
    Ok(String::from_utf8(plain).expect("utf-8"))
}

#[test]
fn a_rolled_back_state_never_seals_the_same_key_and_nonce_twice() {
    let (mut alice, mut bob) = channel();
    let hello = alice.send("hello");
    reads(&mut bob, &alice, &hello, "hello");
    // A backup of Alice's data folder, taken now.
    let backup = alice.restored("alice", 60);
    recorder::take();
    for i in 0..3 {
        alice.send(&format!("after the backup {i}"));
    }
    // The backup is restored and Alice goes on sending from it.
    let mut alice = backup;
    for i in 0..3 {
        alice.send(&format!("from the restored copy {i}"));
    }
    let sealed = recorder::take();
    assert_eq!(sealed.len(), 6);
    let keys: HashSet<[u8; 32]> = sealed.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys.len(),
        3,
        "the restored copy derives the same message keys again"
    );
    let pairs: HashSet<([u8; 32], [u8; NONCE_LEN])> = sealed.iter().copied().collect();
    assert_eq!(pairs.len(), 6, "a (key, nonce) pair was sealed twice");
}

#[test]
fn the_same_header_with_other_contents_is_reported_as_a_rollback() {
    let (mut alice, mut bob) = channel();
    let backup = alice.restored("alice", 60);
    let first = alice.send("the original");
    reads(&mut bob, &alice, &first, "the original");
    let mut restored = backup;
    let again = restored.send("sealed again from the old copy");
    assert_eq!(again.header, first.header);
    let err = rejected_without_change(&mut bob, &again, &ad("alice"));
    assert!(
        matches!(err, RatchetError::HeaderReused { n: 0 }),
        "{err:?}"
    );
    // The very same message again is a plain replay.
    let err = rejected_without_change(&mut bob, &first, &ad("alice"));
    assert!(matches!(err, RatchetError::Replay), "{err:?}");
}

#[test]
fn messages_of_the_old_format_still_open_until_the_peer_sends_the_new_one() {
    let (mut alice, mut bob) = channel();
    let old = alice
        .ratchet
        .seal_construction_2(b"sealed by an earlier version", &ad("alice"))
        .expect("seal");
    assert!(old.nonce.is_none());
    reads(&mut bob, &alice, &old, "sealed by an earlier version");
    let new = alice.send("sealed by this version");
    assert!(new.nonce.is_some());
    reads(&mut bob, &alice, &new, "sealed by this version");
    let downgraded = alice
        .ratchet
        .seal_construction_2(b"old format again", &ad("alice"))
        .expect("seal");
    let err = rejected_without_change(&mut bob, &downgraded, &ad("alice"));
    assert!(matches!(err, RatchetError::Downgrade), "{err:?}");
}

#[test]
fn a_chain_keeps_at_most_forty_skipped_keys() {
    let (mut alice, mut bob) = channel();
    let sent: Vec<_> = (0..=100).map(|i| alice.send(&format!("m{i}"))).collect();
    open_at(&mut bob, &alice, &sent[100], T0).expect("opens");
    assert_eq!(bob.ratchet.skipped_keys(), MAX_SKIPPED_PER_CHAIN);
    // The newest skipped keys are kept, the oldest are gone.
    assert_eq!(
        open_at(&mut bob, &alice, &sent[99], T0).expect("opens"),
        "m99"
    );
    assert!(matches!(
        open_at(&mut bob, &alice, &sent[0], T0),
        Err(RatchetError::Replay)
    ));
}

#[test]
fn skipped_keys_of_at_most_five_chains_are_kept() {
    let (mut alice, mut bob) = channel();
    let mut first_lost = None;
    for turn in 0..7 {
        let late = alice.send(&format!("t{turn} late"));
        let on_time = alice.send(&format!("t{turn} on time"));
        open_at(&mut bob, &alice, &on_time, T0 + turn).expect("opens");
        first_lost.get_or_insert(late);
        let b = bob.send("ack");
        reads(&mut alice, &bob, &b, "ack");
    }
    assert_eq!(bob.ratchet.skipped.chains(), MAX_SKIPPED_CHAINS);
    assert_eq!(bob.ratchet.skipped_keys(), MAX_SKIPPED_CHAINS);
    let first_lost = first_lost.expect("first turn");
    assert!(matches!(
        open_at(&mut bob, &alice, &first_lost, T0 + 10),
        Err(RatchetError::Replay)
    ));
}

#[test]
fn a_skipped_key_expires_after_its_lifetime() {
    let (mut alice, mut bob) = channel();
    let late = alice.send("late");
    let later = alice.send("later");
    let on_time = alice.send("on time");
    open_at(&mut bob, &alice, &on_time, T0).expect("opens");
    assert_eq!(bob.ratchet.skipped_keys(), 2);
    // Within its lifetime the key opens its message.
    assert_eq!(
        open_at(&mut bob, &alice, &late, T0 + SKIPPED_KEY_LIFETIME_MS).expect("opens"),
        "late"
    );
    // After it, the key no longer opens anything, and the next open deletes it.
    let expired_at = T0 + SKIPPED_KEY_LIFETIME_MS + 1;
    assert!(matches!(
        open_at(&mut bob, &alice, &later, expired_at),
        Err(RatchetError::Replay)
    ));
    let next = alice.send("next");
    open_at(&mut bob, &alice, &next, expired_at).expect("opens");
    assert_eq!(bob.ratchet.skipped_keys(), 0);
}

#[test]
fn a_full_ratchet_encodes_well_below_the_storage_blob_threshold() {
    let (mut alice, mut bob) = channel();
    // Seven turns that each skip a thousand keys: the bounds keep 5 chains of 40.
    for turn in 0..(MAX_SKIPPED_CHAINS + 2) as u64 {
        let sent: Vec<_> = (0..=MAX_SKIP)
            .map(|i| alice.send(&format!("{i}")))
            .collect();
        open_at(&mut bob, &alice, &sent[MAX_SKIP as usize], T0 + turn).expect("opens");
        let b = bob.send("ack");
        reads(&mut alice, &bob, &b, "ack");
    }
    // And enough messages in order to fill the fingerprints of recent messages.
    for i in 0..RECENT_OPENED {
        let m = alice.send(&format!("in order {i}"));
        open_at(&mut bob, &alice, &m, T0 + 10).expect("opens");
    }
    assert_eq!(bob.ratchet.skipped_keys(), MAX_SKIPPED_KEYS);
    assert_eq!(bob.ratchet.recent.len(), RECENT_OPENED);
    let mut cbor = Vec::new();
    ciborium::into_writer(&bob.ratchet, &mut cbor).expect("encode");
    assert!(
        cbor.len() < MAX_ENCODED_LEN,
        "a full ratchet encodes to {} bytes",
        cbor.len()
    );
    eprintln!("a full ratchet encodes to {} bytes", cbor.len());
    const { assert!(MAX_ENCODED_LEN < 131_052) };
}
