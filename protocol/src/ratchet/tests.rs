//! Conversations between Alice (initiator) and Bob (responder) over the ratchet.

use super::*;
use crate::random::RandomError;

/// Hands out 32-byte secrets `[seed, seed, …]`, `[seed + 1, …]`, … and counts them.
pub(super) struct CountingKeys {
    pub(super) next: u8,
    pub(super) drawn: usize,
}

impl KeySource for CountingKeys {
    fn next_ratchet_secret(&mut self) -> Result<StaticSecret, RandomError> {
        let secret = StaticSecret::from([self.next; 32]);
        self.next = self.next.wrapping_add(1);
        self.drawn += 1;
        Ok(secret)
    }
}

pub(super) struct Peer {
    pub(super) name: &'static str,
    pub(super) ratchet: Ratchet,
    pub(super) keys: CountingKeys,
}

pub(super) fn ad(sender: &str) -> Vec<u8> {
    format!("channel:c0ffee|from:{sender}").into_bytes()
}

impl Peer {
    pub(super) fn send(&mut self, text: &str) -> Sealed {
        self.ratchet
            .seal(text.as_bytes(), &ad(self.name))
            .expect("seal")
    }

    pub(super) fn receive(&mut self, from: &Peer, sealed: &Sealed) -> Result<String, RatchetError> {
        let plaintext = self
            .ratchet
            .open_with(sealed, &ad(from.name), &mut self.keys)?;
        Ok(String::from_utf8(plaintext).expect("utf-8"))
    }

    pub(super) fn snapshot(&self) -> String {
        serde_json::to_string(&self.ratchet).expect("serialize")
    }

    pub(super) fn restored(&self, name: &'static str, first_key: u8) -> Peer {
        Peer {
            name,
            ratchet: {
                // The node persists CBOR; make sure the state round-trips through it.
                let mut cbor = Vec::new();
                ciborium::into_writer(&self.ratchet, &mut cbor).expect("encode");
                ciborium::from_reader(cbor.as_slice()).expect("decode")
            },
            keys: CountingKeys {
                next: first_key,
                drawn: 0,
            },
        }
    }
}

/// A channel right after the handshake: same root, Bob's handshake ephemeral is his ratchet key.
pub(super) fn channel() -> (Peer, Peer) {
    let root = [42u8; 32];
    let bob_ephemeral = StaticSecret::from([2u8; 32]);
    let alice = Ratchet::init_initiator_with(
        RootSecret::from_bytes(root),
        PublicKey::from(&bob_ephemeral),
        &StaticSecret::from([1u8; 32]),
    )
    .expect("alice init");
    let bob =
        Ratchet::init_responder(RootSecret::from_bytes(root), &bob_ephemeral).expect("bob init");
    (
        Peer {
            name: "alice",
            ratchet: alice,
            keys: CountingKeys { next: 10, drawn: 0 },
        },
        Peer {
            name: "bob",
            ratchet: bob,
            keys: CountingKeys {
                next: 100,
                drawn: 0,
            },
        },
    )
}

pub(super) fn reads(receiver: &mut Peer, sender: &Peer, sealed: &Sealed, expected: &str) {
    assert_eq!(receiver.receive(sender, sealed).expect("opens"), expected);
}

#[test]
fn alice_and_bob_talk_in_turns_in_both_directions() {
    let (mut alice, mut bob) = channel();
    for round in 0..4 {
        for i in 0..3 {
            let text = format!("alice round {round} line {i}");
            let m = alice.send(&text);
            reads(&mut bob, &alice, &m, &text);
        }
        let text = format!("bob round {round}");
        let m = bob.send(&text);
        reads(&mut alice, &bob, &m, &text);
    }
    assert_eq!(alice.ratchet.skipped_keys(), 0);
    assert_eq!(bob.ratchet.skipped_keys(), 0);
}

#[test]
fn each_turn_change_brings_a_new_ratchet_key() {
    let (mut alice, mut bob) = channel();
    let a1 = alice.send("hi");
    let a2 = alice.send("again");
    assert_eq!(a1.header.dh, a2.header.dh);
    assert_eq!((a1.header.n, a2.header.n), (0, 1));
    reads(&mut bob, &alice, &a1, "hi");
    reads(&mut bob, &alice, &a2, "again");
    let b1 = bob.send("hello");
    assert_eq!(b1.header.prev_chain_len, 0);
    reads(&mut alice, &bob, &b1, "hello");
    let a3 = alice.send("new turn");
    assert_ne!(a3.header.dh, a1.header.dh);
    assert_eq!((a3.header.prev_chain_len, a3.header.n), (2, 0));
    reads(&mut bob, &alice, &a3, "new turn");
}

#[test]
fn the_responder_can_speak_first() {
    let (mut alice, mut bob) = channel();
    let welcome = bob.send("welcome");
    let again = bob.send("anyone there?");
    assert_eq!(welcome.header.dh, bob.ratchet.public_key().to_bytes());
    reads(&mut alice, &bob, &welcome, "welcome");
    let reply = alice.send("yes, hi");
    reads(&mut bob, &alice, &reply, "yes, hi");
    let next = bob.send("great");
    assert_eq!(next.header.prev_chain_len, 2);
    reads(&mut alice, &bob, &next, "great");
    // The late second message of Bob's first chain still opens from the skipped keys.
    reads(&mut alice, &bob, &again, "anyone there?");
    assert_eq!(alice.ratchet.skipped_keys(), 0);
}

#[test]
fn messages_arriving_out_of_order_within_a_chain_open() {
    let (mut alice, mut bob) = channel();
    let sent: Vec<_> = (0..5).map(|i| alice.send(&format!("m{i}"))).collect();
    for i in [3, 0, 4, 2, 1] {
        reads(&mut bob, &alice, &sent[i], &format!("m{i}"));
    }
    assert_eq!(bob.ratchet.skipped_keys(), 0);
}

#[test]
fn messages_from_before_a_turn_change_still_open_after_it() {
    let (mut alice, mut bob) = channel();
    let early: Vec<_> = (0..3).map(|i| alice.send(&format!("early {i}"))).collect();
    reads(&mut bob, &alice, &early[0], "early 0");
    let b = bob.send("bob speaks");
    reads(&mut alice, &bob, &b, "bob speaks");
    let late = alice.send("after the turn");
    // Bob gets the new chain first; the two older messages wait as skipped keys.
    reads(&mut bob, &alice, &late, "after the turn");
    assert_eq!(bob.ratchet.skipped_keys(), 2);
    reads(&mut bob, &alice, &early[2], "early 2");
    reads(&mut bob, &alice, &early[1], "early 1");
    assert_eq!(bob.ratchet.skipped_keys(), 0);
}

#[test]
fn a_replayed_message_is_rejected() {
    let (mut alice, mut bob) = channel();
    let m0 = alice.send("once");
    let m1 = alice.send("twice");
    reads(&mut bob, &alice, &m1, "twice");
    reads(&mut bob, &alice, &m0, "once");
    assert!(matches!(
        bob.receive(&alice, &m0),
        Err(RatchetError::Replay)
    ));
    assert!(matches!(
        bob.receive(&alice, &m1),
        Err(RatchetError::Replay)
    ));

    // Still a replay after the conversation moved on to new ratchet keys.
    let b = bob.send("reply");
    reads(&mut alice, &bob, &b, "reply");
    let a = alice.send("next turn");
    reads(&mut bob, &alice, &a, "next turn");
    assert!(matches!(
        bob.receive(&alice, &m1),
        Err(RatchetError::Replay)
    ));
    assert!(matches!(alice.receive(&bob, &b), Err(RatchetError::Replay)));
}

/// Opens a message that must fail, checks Bob's state did not move, and returns the error.
pub(super) fn rejected_without_change(bob: &mut Peer, forged: &Sealed, ad: &[u8]) -> RatchetError {
    let before = bob.snapshot();
    let drawn = bob.keys.drawn;
    let result = bob.ratchet.open_with(forged, ad, &mut bob.keys);
    assert_eq!(
        bob.snapshot(),
        before,
        "a failed open must not change the state"
    );
    assert_eq!(
        bob.keys.drawn, drawn,
        "no ratchet key is drawn for a rejected message"
    );
    match result {
        Err(err) => err,
        Ok(plaintext) => panic!("forged message opened: {plaintext:?}"),
    }
}

fn assert_tampered(bob: &mut Peer, forged: &Sealed, ad: &[u8]) {
    let err = rejected_without_change(bob, forged, ad);
    assert!(matches!(err, RatchetError::Tampered), "{err:?}");
}

#[test]
fn a_flipped_bit_anywhere_is_rejected_and_the_next_message_still_opens() {
    let (mut alice, mut bob) = channel();
    let warmup = bob.send("hi alice");
    reads(&mut alice, &bob, &warmup, "hi alice");
    let good = alice.send("the real message");

    for i in 0..good.ciphertext.len() {
        let mut forged = good.clone();
        forged.ciphertext[i] ^= 0x01;
        assert_tampered(&mut bob, &forged, &ad("alice"));
    }
    let mut forged = good.clone();
    forged.header.dh[5] ^= 0x80;
    assert_tampered(&mut bob, &forged, &ad("alice"));
    let mut forged = good.clone();
    forged.header.n ^= 1;
    assert_tampered(&mut bob, &forged, &ad("alice"));
    let mut forged = good.clone();
    forged.header.prev_chain_len ^= 1;
    assert_tampered(&mut bob, &forged, &ad("alice"));
    let mut wrong_ad = ad("alice");
    wrong_ad[0] ^= 0x20;
    assert_tampered(&mut bob, &good, &wrong_ad);
    assert_tampered(&mut bob, &good, &ad("bob"));
    let mut truncated = good.clone();
    truncated.ciphertext.truncate(10);
    assert_tampered(&mut bob, &truncated, &ad("alice"));

    reads(&mut bob, &alice, &good, "the real message");
}

#[test]
fn a_tampered_late_message_keeps_its_skipped_key() {
    let (mut alice, mut bob) = channel();
    let m0 = alice.send("late");
    let m1 = alice.send("early");
    reads(&mut bob, &alice, &m1, "early");
    let mut forged = m0.clone();
    forged.ciphertext[0] ^= 1;
    assert_tampered(&mut bob, &forged, &ad("alice"));
    assert_eq!(bob.ratchet.skipped_keys(), 1);
    reads(&mut bob, &alice, &m0, "late");
}

#[test]
fn a_message_too_far_ahead_is_refused() {
    let (mut alice, mut bob) = channel();
    let sent: Vec<_> = (0..=MAX_SKIP + 1)
        .map(|i| alice.send(&format!("m{i}")))
        .collect();
    let before = bob.snapshot();
    let too_far = &sent[(MAX_SKIP + 1) as usize];
    assert!(matches!(
        bob.receive(&alice, too_far),
        Err(RatchetError::TooManySkipped {
            requested: 1001,
            max: MAX_SKIP
        })
    ));
    assert_eq!(bob.snapshot(), before);
    // Exactly MAX_SKIP skipped is still fine.
    reads(&mut bob, &alice, &sent[MAX_SKIP as usize], "m1000");
    // Only the newest MAX_SKIPPED_PER_CHAIN of the skipped keys are kept.
    assert_eq!(bob.ratchet.skipped_keys(), MAX_SKIPPED_PER_CHAIN);
    reads(&mut bob, &alice, too_far, "m1001");
}

#[test]
fn the_oldest_skipped_keys_are_evicted_beyond_the_cap() {
    let (mut alice, mut bob) = channel();
    let mut first_lost = None;
    for turn in 0..3 {
        let chain: Vec<_> = (0..=MAX_SKIP)
            .map(|i| alice.send(&format!("t{turn} m{i}")))
            .collect();
        reads(
            &mut bob,
            &alice,
            &chain[MAX_SKIP as usize],
            &format!("t{turn} m1000"),
        );
        first_lost.get_or_insert_with(|| chain[0].clone());
        let b = bob.send("ack");
        reads(&mut alice, &bob, &b, "ack");
    }
    assert_eq!(bob.ratchet.skipped_keys(), 3 * MAX_SKIPPED_PER_CHAIN);
    let first_lost = first_lost.expect("first chain");
    assert!(matches!(
        bob.receive(&alice, &first_lost),
        Err(RatchetError::Replay)
    ));
}

#[test]
fn a_low_order_ratchet_key_from_the_peer_is_refused() {
    let (mut alice, mut bob) = channel();
    let mut forged = alice.send("hello");
    forged.header.dh = [0u8; 32];
    assert!(matches!(
        rejected_without_change(&mut bob, &forged, &ad("alice")),
        RatchetError::NonContributory
    ));

    let err = Ratchet::init_initiator_with(
        RootSecret::from_bytes([1; 32]),
        PublicKey::from([0u8; 32]),
        &StaticSecret::from([3; 32]),
    );
    assert!(matches!(err, Err(RatchetError::NonContributory)));
}

#[test]
fn the_state_survives_persistence_mid_conversation() {
    let (mut alice, mut bob) = channel();
    let m0 = alice.send("before the restart");
    let m1 = alice.send("also before");
    reads(&mut bob, &alice, &m1, "also before");
    let mut bob = bob.restored("bob", 200);
    let mut alice = alice.restored("alice", 50);
    reads(&mut bob, &alice, &m0, "before the restart");
    let b = bob.send("after the restart");
    reads(&mut alice, &bob, &b, "after the restart");
    let a = alice.send("still fine");
    reads(&mut bob, &alice, &a, "still fine");
}

fn decimal(bytes: &[u8; 32]) -> String {
    format!("{bytes:?}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn debug_output_never_shows_a_secret() {
    let (mut alice, mut bob) = channel();
    let m0 = alice.send("a");
    let m1 = alice.send("b");
    reads(&mut bob, &alice, &m1, "b");
    let _ = m0;
    let chains = &bob.ratchet.chains;
    let receiving = chains.receiving.as_ref().expect("receiving chain");
    let secrets = [
        *chains.root.expose(),
        *chains.sending.chain.expose(),
        *chains.sending.pair.secret().expose(),
        *receiving.chain.expose(),
    ];
    let shown = format!("{:?} {:?}", bob.ratchet, chains.sending.pair);
    assert!(shown.contains("REDACTED"), "{shown}");
    for secret in &secrets {
        assert!(!shown.contains(&hex(secret)), "{shown}");
        assert!(!shown.contains(&decimal(secret)), "{shown}");
        assert!(!shown.contains(&serde_json::to_string(secret).expect("json")));
    }
    // Each secret type on its own.
    let (root, chain) = keys::kdf_init(&RootSecret::from_bytes([9; 32])).expect("kdf");
    let (_, message) = keys::kdf_ck(&chain).expect("kdf");
    for (shown, secret) in [
        (format!("{root:?}"), *root.expose()),
        (format!("{chain:?}"), *chain.expose()),
        (format!("{message:?}"), *message.expose()),
    ] {
        assert!(shown.ends_with("(REDACTED)"), "{shown}");
        assert!(!shown.contains(&hex(&secret)) && !shown.contains(&decimal(&secret)));
    }
}

#[test]
fn an_opened_message_leaves_no_key_behind_to_open_it_again() {
    let (mut alice, mut bob) = channel();
    let first = alice.send("first");
    reads(&mut bob, &alice, &first, "first");
    let m0 = alice.send("secret 0");
    let m1 = alice.send("secret 1");
    let old_chain = *bob
        .ratchet
        .chains
        .receiving
        .as_ref()
        .expect("chain")
        .chain
        .expose();
    reads(&mut bob, &alice, &m1, "secret 1");
    reads(&mut bob, &alice, &m0, "secret 0");
    let state = bob.snapshot();
    assert!(!state.contains(&serde_json::to_string(&old_chain).expect("json")));
    assert_eq!(bob.ratchet.skipped_keys(), 0);
    assert!(matches!(
        bob.receive(&alice, &m0),
        Err(RatchetError::Replay)
    ));
    assert!(matches!(
        bob.receive(&alice, &m1),
        Err(RatchetError::Replay)
    ));
}

#[test]
fn a_stolen_state_stops_reading_once_the_victim_takes_a_new_turn() {
    let (mut alice, mut bob) = channel();
    let hello = alice.send("hello");
    reads(&mut bob, &alice, &hello, "hello");

    // Mallory copies Bob's whole state, secrets included.
    let mut mallory = bob.restored("bob", 250);

    let b1 = bob.send("bob, before healing");
    reads(&mut alice, &bob, &b1, "bob, before healing");
    let a1 = alice.send("alice, new key but bob's old one");
    // Alice's new chain still depends on Bob's stolen ratchet key: Mallory can read it.
    reads(
        &mut mallory,
        &alice,
        &a1,
        "alice, new key but bob's old one",
    );
    reads(&mut bob, &alice, &a1, "alice, new key but bob's old one");

    // Bob's reply uses a fresh ratchet key Mallory does not have: the channel has healed.
    let b2 = bob.send("bob, healed");
    assert!(matches!(
        mallory.receive(&bob, &b2),
        Err(RatchetError::Tampered)
    ));
    reads(&mut alice, &bob, &b2, "bob, healed");
    let a2 = alice.send("alice, healed");
    assert!(mallory.receive(&alice, &a2).is_err());
    reads(&mut bob, &alice, &a2, "alice, healed");
}

#[test]
fn randomness_is_drawn_only_when_a_new_turn_opens() {
    let (mut alice, mut bob) = channel();
    let a = alice.send("one");
    let a2 = alice.send("two");
    reads(&mut bob, &alice, &a, "one");
    reads(&mut bob, &alice, &a2, "two");
    assert_eq!(bob.keys.drawn, 1);
    let b = bob.send("three");
    reads(&mut alice, &bob, &b, "three");
    assert_eq!(alice.keys.drawn, 1);
}

#[test]
fn os_randomness_works_for_a_real_channel() {
    let root = [5u8; 32];
    let bob_secret = OsRandom.next_ratchet_secret().expect("random");
    let mut alice =
        Ratchet::init_initiator(RootSecret::from_bytes(root), PublicKey::from(&bob_secret))
            .expect("init");
    let mut bob = Ratchet::init_responder(RootSecret::from_bytes(root), &bob_secret).expect("init");
    let m = alice.seal(b"hi", b"ad").expect("seal");
    assert_eq!(bob.open(&m, b"ad").expect("open"), b"hi");
    let r = bob.seal(b"hey", b"ad").expect("seal");
    assert_eq!(alice.open(&r, b"ad").expect("open"), b"hey");
}

#[test]
fn a_stored_key_pair_keeps_its_public_key_and_the_older_form_still_reads() {
    let pair = keys::RatchetKeyPair::from_secret(&StaticSecret::from([7u8; 32]));
    let mut cbor = Vec::new();
    ciborium::into_writer(&pair, &mut cbor).expect("encode");
    let back: keys::RatchetKeyPair = ciborium::from_reader(cbor.as_slice()).expect("decode");
    assert_eq!(back.public(), pair.public());
    assert_eq!(back.secret().expose(), pair.secret().expose());

    // Written by an earlier version: the private key alone.
    let mut old = Vec::new();
    ciborium::into_writer(&serde_bytes::Bytes::new(&[7u8; 32]), &mut old).expect("encode");
    let read: keys::RatchetKeyPair = ciborium::from_reader(old.as_slice()).expect("decode");
    assert_eq!(read.public(), pair.public());

    // Anything else is refused, not guessed at.
    let mut bad = Vec::new();
    ciborium::into_writer(&serde_bytes::Bytes::new(&[7u8; 40]), &mut bad).expect("encode");
    let refused: Result<keys::RatchetKeyPair, _> = ciborium::from_reader(bad.as_slice());
    assert!(refused.is_err());
}
