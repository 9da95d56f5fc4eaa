//! Property: over an unreliable network — any interleaving of who speaks, lost messages,
//! duplicated deliveries and reordering (within the skip bounds) — every delivered message opens
//! exactly once with the right plaintext, every duplicate is rejected, and lost messages never
//! show up. Afterwards the two sides can still talk.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::HashSet;

use ochat_protocol::agreement::RootSecret;
use ochat_protocol::random::RandomError;
use ochat_protocol::ratchet::{KeySource, Ratchet, RatchetError, Sealed};
use proptest::prelude::*;
use proptest::sample::Index;
use x25519_dalek::{PublicKey, StaticSecret};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Alice,
    Bob,
}

impl Side {
    fn ad(self) -> &'static [u8] {
        match self {
            Side::Alice => b"channel:props|from:alice",
            Side::Bob => b"channel:props|from:bob",
        }
    }
}

/// What the network does next.
#[derive(Debug, Clone)]
enum Step {
    /// `Side` seals a new message and hands it to the network.
    Send(Side),
    /// The network delivers one in-flight message; with `keep_copy` it will deliver it again later.
    Deliver { pick: Index, keep_copy: bool },
    /// The network loses one in-flight message for good.
    Lose(Index),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop_oneof![Just(Side::Alice), Just(Side::Bob)].prop_map(Step::Send),
        4 => (any::<Index>(), prop::bool::weighted(0.25))
            .prop_map(|(pick, keep_copy)| Step::Deliver { pick, keep_copy }),
        1 => any::<Index>().prop_map(Step::Lose),
    ]
}

/// Deterministic ratchet secrets per side, so a failing case replays identically.
struct Counter {
    side: u8,
    next: u32,
}

impl KeySource for Counter {
    fn next_ratchet_secret(&mut self) -> Result<StaticSecret, RandomError> {
        let mut secret = [self.side; 32];
        secret[..4].copy_from_slice(&self.next.to_be_bytes());
        self.next += 1;
        Ok(StaticSecret::from(secret))
    }
}

struct InFlight {
    id: usize,
    from: Side,
    sealed: Sealed,
}

struct World {
    alice: (Ratchet, Counter),
    bob: (Ratchet, Counter),
    network: Vec<InFlight>,
    sent: usize,
    opened: HashSet<usize>,
    lost: HashSet<usize>,
}

fn text(id: usize) -> Vec<u8> {
    format!("message #{id}").into_bytes()
}

impl World {
    fn new() -> Self {
        let root = [7u8; 32];
        let bob_ephemeral = StaticSecret::from([2u8; 32]);
        let alice = Ratchet::init_initiator_with(
            RootSecret::from_bytes(root),
            PublicKey::from(&bob_ephemeral),
            &StaticSecret::from([1u8; 32]),
        )
        .expect("alice init");
        let bob = Ratchet::init_responder(RootSecret::from_bytes(root), &bob_ephemeral)
            .expect("bob init");
        World {
            alice: (
                alice,
                Counter {
                    side: 0xA0,
                    next: 0,
                },
            ),
            bob: (
                bob,
                Counter {
                    side: 0xB0,
                    next: 0,
                },
            ),
            network: Vec::new(),
            sent: 0,
            opened: HashSet::new(),
            lost: HashSet::new(),
        }
    }

    fn side(&mut self, side: Side) -> &mut (Ratchet, Counter) {
        match side {
            Side::Alice => &mut self.alice,
            Side::Bob => &mut self.bob,
        }
    }

    fn send(&mut self, from: Side) -> usize {
        let id = self.sent;
        self.sent += 1;
        let sealed = self.side(from).0.seal(&text(id), from.ad()).expect("seal");
        self.network.push(InFlight { id, from, sealed });
        id
    }

    /// Delivers the in-flight message at `index` and checks the outcome.
    fn deliver(&mut self, index: usize, keep_copy: bool) -> Result<(), TestCaseError> {
        let message = if keep_copy {
            let m = &self.network[index];
            InFlight {
                id: m.id,
                from: m.from,
                sealed: m.sealed.clone(),
            }
        } else {
            self.network.remove(index)
        };
        let to = match message.from {
            Side::Alice => Side::Bob,
            Side::Bob => Side::Alice,
        };
        let (ratchet, keys) = self.side(to);
        let result = ratchet.open_with(&message.sealed, message.from.ad(), keys);
        if self.opened.insert(message.id) {
            prop_assert_eq!(
                result.ok(),
                Some(text(message.id)),
                "first delivery of #{}",
                message.id
            );
        } else {
            // `Replay` in practice; `Tampered` only once the chain is older than the
            // remembered previous ratchet keys (64 turns), which a long run could reach.
            prop_assert!(
                matches!(result, Err(RatchetError::Replay | RatchetError::Tampered)),
                "duplicate #{} must be rejected, got {:?}",
                message.id,
                result.map(String::from_utf8)
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn an_unreliable_network_never_breaks_the_channel(steps in prop::collection::vec(step(), 1..160)) {
        let mut world = World::new();
        for step in steps {
            match step {
                Step::Send(side) => {
                    world.send(side);
                }
                Step::Deliver { pick, keep_copy } if !world.network.is_empty() => {
                    let index = pick.index(world.network.len());
                    world.deliver(index, keep_copy)?;
                }
                Step::Lose(pick) if !world.network.is_empty() => {
                    let index = pick.index(world.network.len());
                    let lost = world.network.remove(index);
                    if !world.opened.contains(&lost.id) {
                        world.lost.insert(lost.id);
                    }
                }
                Step::Deliver { .. } | Step::Lose(_) => {}
            }
        }

        // The network finally delivers whatever is still in flight, newest first.
        while !world.network.is_empty() {
            let last = world.network.len() - 1;
            world.deliver(last, false)?;
        }

        let lost: HashSet<_> = world.lost.iter().filter(|id| !world.opened.contains(id)).collect();
        prop_assert_eq!(lost.len(), world.lost.len(), "a lost message never appears");
        prop_assert_eq!(world.opened.len() + world.lost.len(), world.sent, "every other message opened");

        // And the conversation goes on in both directions.
        for from in [Side::Alice, Side::Bob, Side::Alice] {
            world.send(from);
            world.deliver(0, false)?;
        }
    }
}
