//! Leases of ratchet steps: what lets a sealed message leave before the flush that makes its
//! sender's state durable, without ever sealing two messages under one key after a crash.
//!
//! Each group of sends ([`super::sending`]) writes its channel's ratchet with a lease of the
//! next [`LEASE_STEPS`] message numbers of its sending chain
//! ([`ochat_protocol::ratchet::Ratchet::lease_sending`]). Once a flush has made a lease
//! durable, messages sealed below it may be delivered before their own flush: if the node
//! crashes, the ratchet it reads back holds that lease (or a later one), and the first group
//! after the restart moves the chain to it ([`Leases::prepare`],
//! [`ochat_protocol::ratchet::Ratchet::resume_at_lease`]) before sealing, so every number that
//! may have been used is skipped, never reused. A message sealed at or above the durable lease
//! (the first group after a start, the first group of a new turn's chain, a group larger than
//! the lease) is held back until its own flush, as before ([`super::unflushed`]).
//!
//! Why [`LEASE_STEPS`] is 24: the peer keeps the keys of skipped numbers, at most
//! [`ochat_protocol::ratchet::MAX_SKIPPED_PER_CHAIN`] (40) per chain, and a crash skips at
//! most one lease; 24 leaves room for 16 keys of messages truly lost or late. It must also
//! cover the messages sealed while one flush runs, or they wait for their own: a sender's
//! answer waits for its flush, so 16 senders keep at most 16 messages unflushed.
//!
//! Only the durable lease lives here (in memory, per channel); the lease itself is part of
//! the stored ratchet.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;

use ochat_protocol::ratchet::{Header, Ratchet, RatchetError};
use uuid::Uuid;

/// How many message numbers each group leases ahead (see the module documentation).
pub const LEASE_STEPS: u32 = 24;

/// A lease as written with a group: the chain, how far it reaches, and the group's place in
/// the channel's order of writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lease {
    dh: [u8; 32],
    leased: u32,
    seq: u64,
}

impl Lease {
    /// Whether a message with this header was sealed below the lease.
    pub(crate) fn covers(&self, header: &Header) -> bool {
        header.dh == self.dh && header.n < self.leased
    }
}

/// What this process knows of a channel's leases.
#[derive(Debug, Default)]
struct ChannelLease {
    /// The stored ratchet was moved to its lease since the node started.
    resumed: bool,
    /// The latest lease known durable.
    durable: Option<Lease>,
    /// Groups written so far (orders the leases).
    written: u64,
}

/// The durable leases of every channel (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Leases {
    map: StdMutex<HashMap<Uuid, ChannelLease>>,
}

impl Leases {
    fn with<R>(&self, channel: Uuid, f: impl FnOnce(&mut ChannelLease) -> R) -> R {
        match self.map.lock() {
            Ok(mut map) => f(map.entry(channel).or_default()),
            Err(poisoned) => f(poisoned.into_inner().entry(channel).or_default()),
        }
    }

    /// Before a group seals (under the channel's lock), on the ratchet as stored: moves it to
    /// its lease if this process has not stored it moved yet, and answers the lease known
    /// durable, under which a sealed message may leave at once.
    pub(crate) fn prepare(
        &self,
        channel: Uuid,
        ratchet: &mut Ratchet,
    ) -> Result<Option<Lease>, RatchetError> {
        let (resumed, durable) = self.with(channel, |c| (c.resumed, c.durable));
        if !resumed {
            let skipped = ratchet.resume_at_lease()?;
            if skipped > 0 {
                tracing::debug!(%channel, skipped, "sending chain moved past its lease after a start");
            }
        }
        Ok(durable)
    }

    /// After a group sealed (under the channel's lock): leases the next [`LEASE_STEPS`]
    /// numbers in `ratchet`, which the caller then stores. Answers the lease, to pass to
    /// [`Leases::stored`] and, after the flush, to [`Leases::durable`].
    pub(crate) fn extend(
        &self,
        channel: Uuid,
        ratchet: &mut Ratchet,
    ) -> Result<Lease, RatchetError> {
        let leased = ratchet.lease_sending(LEASE_STEPS)?;
        let dh = ratchet.sending_position().dh;
        let seq = self.with(channel, |c| {
            c.written += 1;
            c.written
        });
        Ok(Lease { dh, leased, seq })
    }

    /// The ratchet prepared by [`Leases::prepare`] is stored (it is moved past its lease).
    pub(crate) fn stored(&self, channel: Uuid) {
        self.with(channel, |c| c.resumed = true);
    }

    /// A flush begun after `lease` was stored has finished: messages below it may leave
    /// before their own flush. An older group's lease finishing later changes nothing.
    pub(crate) fn durable(&self, channel: Uuid, lease: Lease) {
        self.with(channel, |c| {
            if c.durable.is_none_or(|d| d.seq < lease.seq) {
                c.durable = Some(lease);
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use ochat_protocol::agreement::RootSecret;
    use ochat_protocol::ratchet::{KeySource, OsRandom};

    use super::*;

    fn a_ratchet() -> Ratchet {
        let secret = OsRandom.next_ratchet_secret().unwrap();
        Ratchet::init_responder(RootSecret::from_bytes([7; 32]), &secret).unwrap()
    }

    #[test]
    fn only_a_durable_lease_lets_messages_leave_and_an_older_one_never_replaces_it() {
        let leases = Leases::default();
        let channel = Uuid::now_v7();
        let mut ratchet = a_ratchet();
        assert_eq!(leases.prepare(channel, &mut ratchet).unwrap(), None);
        let first = ratchet.seal(b"one", b"ad").unwrap();
        let lease = leases.extend(channel, &mut ratchet).unwrap();
        leases.stored(channel);
        assert_eq!(lease.leased, 1 + LEASE_STEPS);
        assert!(lease.covers(&first.header));
        // Not durable yet: nothing is covered.
        assert_eq!(leases.prepare(channel, &mut ratchet).unwrap(), None);
        let second = ratchet.seal(b"two", b"ad").unwrap();
        let later = leases.extend(channel, &mut ratchet).unwrap();
        leases.durable(channel, later);
        leases.durable(channel, lease);
        let durable = leases.prepare(channel, &mut ratchet).unwrap().unwrap();
        assert_eq!(durable, later);
        assert!(durable.covers(&second.header));
        let mut beyond = second.header;
        beyond.n = durable.leased;
        assert!(!durable.covers(&beyond));
        beyond.n = 0;
        beyond.dh = [9; 32];
        assert!(!durable.covers(&beyond), "another chain");
    }

    #[test]
    fn the_first_group_after_a_start_moves_the_stored_chain_past_its_lease_once() {
        let channel = Uuid::now_v7();
        let mut ratchet = a_ratchet();
        ratchet.lease_sending(LEASE_STEPS).unwrap();
        let leases = Leases::default();
        leases.prepare(channel, &mut ratchet).unwrap();
        assert_eq!(ratchet.sending_position().n, LEASE_STEPS);
        leases.extend(channel, &mut ratchet).unwrap();
        leases.stored(channel);
        leases.prepare(channel, &mut ratchet).unwrap();
        assert_eq!(ratchet.sending_position().n, LEASE_STEPS, "not moved again");
    }
}
