//! A sender that crashed inside its lease ([`Ratchet::lease_sending`],
//! [`Ratchet::resume_at_lease`]): its state comes back older than what it used, and it must
//! never seal under a message key or header it may have used before.

use super::keys::recorder;
use super::tests::{Peer, channel, reads};
use super::*;

/// Alice leases `lease` steps and keeps that state as "what is on disk"; then she seals and
/// Bob opens `sent` more messages, which the disk never saw.
fn alice_crashes_after(lease: u32, sent: u32) -> (Peer, Peer, Peer) {
    let (mut alice, mut bob) = channel();
    let first = alice.send("durable");
    reads(&mut bob, &alice, &first, "durable");
    alice.ratchet.lease_sending(lease).expect("lease");
    let on_disk = alice.restored("alice", 50);
    for i in 0..sent {
        let text = format!("lost {i}");
        let sealed = alice.send(&text);
        reads(&mut bob, &alice, &sealed, &text);
    }
    (alice, bob, on_disk)
}

#[test]
fn a_sender_back_from_a_crash_inside_its_lease_repeats_no_header_and_no_key() {
    recorder::take();
    let (_, mut bob, mut alice) = alice_crashes_after(24, 10);
    assert_eq!(alice.ratchet.sending_position().n, 1, "the disk is behind");
    assert_eq!(alice.ratchet.resume_at_lease().expect("resume"), 24);
    assert_eq!(alice.ratchet.sending_position().n, 25);
    for i in 0..5 {
        let text = format!("after the crash {i}");
        let sealed = alice.send(&text);
        reads(&mut bob, &alice, &sealed, &text);
    }
    // Bob keeps the keys of the numbers Alice skipped (11..25), no more than the lease.
    assert_eq!(bob.ratchet.skipped_keys(), 14);
    assert!(bob.ratchet.skipped_keys() <= MAX_SKIPPED_PER_CHAIN);
    let sealed = recorder::take();
    let keys: std::collections::HashSet<_> = sealed.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys.len(), sealed.len(), "a message key sealed twice");
}

#[test]
fn without_resuming_the_old_state_reuses_headers_and_the_peer_sees_the_rollback() {
    let (_, mut bob, mut alice) = alice_crashes_after(24, 10);
    let sealed = alice.send("after the crash");
    let err = bob.receive(&alice, &sealed).expect_err("refused");
    assert!(
        matches!(err, RatchetError::HeaderReused { n: 1 }),
        "{err:?}"
    );
}

#[test]
fn a_lease_never_shrinks_resuming_twice_changes_nothing_and_a_new_turn_starts_unleased() {
    let (mut alice, mut bob) = channel();
    assert_eq!(alice.ratchet.lease_sending(24).expect("lease"), 24);
    assert_eq!(alice.ratchet.lease_sending(4).expect("lease"), 24);
    assert_eq!(alice.ratchet.resume_at_lease().expect("resume"), 24);
    assert_eq!(alice.ratchet.resume_at_lease().expect("resume"), 0);
    let position = alice.ratchet.sending_position();
    assert_eq!((position.n, position.leased), (24, 24));
    let hello = alice.send("hello");
    reads(&mut bob, &alice, &hello, "hello");
    let reply = bob.send("hi");
    reads(&mut alice, &bob, &reply, "hi");
    let turned = alice.ratchet.sending_position();
    assert_ne!(turned.dh, position.dh, "a new turn brings a new chain");
    assert_eq!(
        (turned.n, turned.leased),
        (0, 0),
        "with no lease of its own"
    );
    // A lease longer than a peer would follow is refused when resuming, not walked.
    alice.ratchet.lease_sending(MAX_SKIP + 1).expect("lease");
    assert!(matches!(
        alice.ratchet.resume_at_lease(),
        Err(RatchetError::TooManySkipped { .. })
    ));
    assert_eq!(alice.ratchet.sending_position().n, 0, "unchanged");
}

#[test]
fn a_state_stored_before_leases_reads_as_unleased() {
    let (alice, _) = channel();
    let mut value: serde_json::Value = serde_json::from_str(&alice.snapshot()).expect("json");
    value["chains"]["sending"]
        .as_object_mut()
        .expect("sending chain")
        .remove("leased");
    let mut old: Ratchet = serde_json::from_value(value).expect("an older state reads");
    assert_eq!(old.sending_position().leased, 0);
    assert_eq!(old.resume_at_lease().expect("resume"), 0);
}
