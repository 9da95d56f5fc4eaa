//! The Double Ratchet (Signal's public specification) for channel messages.
//!
//! After the handshake both instances hold the same [`RootSecret`]
//! from [`crate::agreement`]. The **initiator** starts with [`Ratchet::init_initiator`] using the
//! responder's handshake ephemeral as the responder's first ratchet public key; the
//! **responder** starts with [`Ratchet::init_responder`] and that ephemeral's secret.
//!
//! Per message, a symmetric chain gives one fresh key (`KDF_CK`, HMAC-SHA256); each time the
//! sending turn changes, a DH ratchet step mixes a fresh X25519 output into the root key
//! (`KDF_RK`, HKDF-SHA256). Messages are sealed with XChaCha20-Poly1305 under the message key
//! and a random 24-byte nonce sent with the message (construction 3); the associated data is
//! the caller's associated data (for example channel id and sender) followed by the 40-byte
//! [`Header`]. The derivations, as published in `tests/vectors/end_to_end.json`:
//!
//! ```text
//! KDF_INIT(SK)   = HKDF-SHA256(salt = none, ikm = SK, info = "ochat/v1/ratchet-init")
//!                  -> RK0 (32) || responder chain key (32)
//! KDF_RK(RK, dh) = HKDF-SHA256(salt = RK, ikm = dh, info = "ochat/v1/ratchet")
//!                  -> new RK (32) || chain key (32)
//! KDF_CK(CK)     = next CK = HMAC-SHA256(CK, 0x02), message key MK = HMAC-SHA256(CK, 0x01)
//! AEAD key/nonce = MK is the XChaCha20-Poly1305 key, the nonce 24 random bytes (`Sealed::nonce`)
//! associated data = caller's ad || header (dh || u32be prev_chain_len || u32be n)
//! ```
//!
//! **Why a random nonce.** Construction 2 used MK with 12 zero bytes of nonce: safe as long as
//! each message key seals one message, but any older copy of the state (a backup, a VM
//! snapshot, a copied data folder) sealed its next message with a key and nonce already used,
//! repeating the keystream and the Poly1305 key. With a fresh 192-bit random nonce per message a
//! rolled-back state can repeat a message *key* but never a (key, nonce) pair. Construction-2
//! messages (no `nonce` field) still open, until the peer has sent a construction-3 message on
//! the channel; from then on they are refused ([`RatchetError::Downgrade`]).
//!
//! **Rollback detection.** The receiver remembers a fingerprint of the last
//! [`RECENT_OPENED`] messages it opened (their `dh`, `n` and Poly1305 tag). The same header arriving again with different contents is
//! [`RatchetError::HeaderReused`]: the sender's state was rolled back, and the channel needs a
//! re-key; the same message again is an ordinary [`RatchetError::Replay`].
//!
//! One addition to the specification: the responder may speak first. `KDF_INIT` splits the root
//! secret into the first root key and a **responder chain key**, which is the responder's sending
//! chain until its first DH step and the initiator's matching receiving chain (for messages
//! whose header carries the responder's handshake ephemeral).
//!
//! Guarantees kept by [`Ratchet::open`]:
//! - a failed open (tampering, replay, too many skipped, low-order key) leaves the state as it was;
//! - each message key is used once and deleted; replays fail with [`RatchetError::Replay`];
//! - at most [`MAX_SKIP`] keys are skipped in one chain by one message; of the skipped keys at
//!   most [`MAX_SKIPPED_PER_CHAIN`] per chain and [`MAX_SKIPPED_CHAINS`] chains are kept
//!   ([`MAX_SKIPPED_KEYS`] in all), the oldest evicted first, and none longer than
//!   [`SKIPPED_KEY_LIFETIME_MS`].
//!
//! State is persisted with serde ([`Ratchet`] implements `Serialize`/`Deserialize`, secrets
//! included). Do not restore an older copy of the state and send from it: the peer refuses the
//! repeated message numbers ([`RatchetError::HeaderReused`]) although no keystream repeats. A
//! restored node re-keys the channel first ([`crate::rekey`]): a new ratchet, a new epoch.
//! [`Ratchet`] is not `Clone`. Its encoding is bounded (see [`MAX_ENCODED_LEN`]).

mod error;
#[cfg(test)]
mod hardening_tests;
mod header;
mod key_source;
mod keys;
#[cfg(test)]
mod lease_tests;
mod recent;
#[cfg(feature = "seal-log")]
pub mod seal_log;
mod skipped;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};

pub use error::RatchetError;
pub use header::{HEADER_LEN, Header, NONCE_LEN, Sealed};
pub use key_source::{KeySource, OsRandom};

use crate::agreement::RootSecret;

use header::associated_data;
use keys::{ChainKey, Hex, MessageKey, RatchetKeyPair, RootKey, kdf_ck, kdf_init, kdf_rk};
use recent::{Opened, fingerprint, system_now_ms};
use skipped::{SkippedKey, SkippedKeys};

/// The most message keys skipped in one chain by a single incoming message.
pub const MAX_SKIP: u32 = 1000;

/// The most skipped message keys kept per chain (vodozemac: 40); beyond it the chain's oldest
/// are evicted.
pub const MAX_SKIPPED_PER_CHAIN: usize = 40;

/// The most chains whose skipped keys are kept (vodozemac: 5); beyond it every key of the
/// chain with the oldest key is evicted.
pub const MAX_SKIPPED_CHAINS: usize = 5;

/// The most skipped message keys kept in total.
pub const MAX_SKIPPED_KEYS: usize = MAX_SKIPPED_PER_CHAIN * MAX_SKIPPED_CHAINS;

/// How long a skipped key is kept: 3 days. A late message normally arrives within seconds
/// (delivery is in send order); a key kept longer only weakens forward secrecy.
pub const SKIPPED_KEY_LIFETIME_MS: u64 = 3 * 24 * 3600 * 1000;

/// How many opened messages are remembered (as fingerprints) to tell a repeated header with
/// new contents ([`RatchetError::HeaderReused`]) from a plain replay.
pub const RECENT_OPENED: usize = 64;

/// An upper bound on the CBOR encoding of a [`Ratchet`] (checked by a test at the bounds):
/// well below sled's 131,052-byte blob threshold, so a stored ratchet is always in the log.
pub const MAX_ENCODED_LEN: usize = 48 * 1024;

/// How many of the peer's previous ratchet public keys are remembered, so that a replay of a
/// message from an old chain is reported as [`RatchetError::Replay`].
const MAX_PREVIOUS_REMOTES: usize = 64;

/// Our current sending chain.
#[derive(Clone, Serialize, Deserialize)]
struct SendingChain {
    pair: RatchetKeyPair,
    chain: ChainKey,
    n: u32,
    /// The lease of this chain: messages below this number may have been sealed and sent
    /// before the state that holds them was durable ([`Ratchet::lease_sending`]); 0 in state
    /// written before leases existed.
    #[serde(default)]
    leased: u32,
}

/// The peer's current chain, which we receive on.
#[derive(Clone, Serialize, Deserialize)]
struct ReceivingChain {
    remote: [u8; 32],
    chain: ChainKey,
    n: u32,
}

/// Everything except the skipped keys; copied before an open and committed on success.
#[derive(Clone, Serialize, Deserialize)]
struct Chains {
    root: RootKey,
    sending: SendingChain,
    receiving: Option<ReceivingChain>,
    previous_sending_len: u32,
}

impl ReceivingChain {
    /// Derives the keys of messages below `until` into `staged`, advancing the chain.
    fn skip_until(&mut self, until: u32, staged: &mut Vec<SkippedKey>) -> Result<(), RatchetError> {
        if u64::from(until) > u64::from(self.n) + u64::from(MAX_SKIP) {
            return Err(RatchetError::TooManySkipped {
                requested: until,
                max: MAX_SKIP,
            });
        }
        while self.n < until {
            let (next, key) = kdf_ck(&self.chain)?;
            staged.push(SkippedKey {
                dh: self.remote,
                n: self.n,
                key,
                at_ms: 0,
            });
            self.chain = next;
            self.n += 1;
        }
        Ok(())
    }

    /// The key of the next message in this chain.
    fn next_key(&mut self) -> Result<MessageKey, RatchetError> {
        let (next, key) = kdf_ck(&self.chain)?;
        self.n = self.n.checked_add(1).ok_or(RatchetError::CounterOverflow)?;
        self.chain = next;
        Ok(key)
    }
}

impl Chains {
    /// First half of a DH ratchet step: the peer's new key opens a new receiving chain.
    fn new_receiving(&mut self, remote: [u8; 32]) -> Result<ReceivingChain, RatchetError> {
        let dh = self.sending.pair.dh(&remote)?;
        let (root, chain) = kdf_rk(&self.root, &dh)?;
        self.root = root;
        Ok(ReceivingChain {
            remote,
            chain,
            n: 0,
        })
    }

    /// Second half of a DH ratchet step: our new key pair opens a new sending chain.
    fn new_sending(
        &mut self,
        secret: &StaticSecret,
        remote: &[u8; 32],
    ) -> Result<(), RatchetError> {
        let pair = RatchetKeyPair::from_secret(secret);
        let dh = pair.dh(remote)?;
        let (root, chain) = kdf_rk(&self.root, &dh)?;
        self.root = root;
        self.previous_sending_len = self.sending.n;
        self.sending = SendingChain {
            pair,
            chain,
            n: 0,
            leased: 0,
        };
        Ok(())
    }
}

/// Where a sending chain stands ([`Ratchet::sending_position`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendingPosition {
    /// The ratchet public key in the chain's headers.
    pub dh: [u8; 32],
    /// The number of the next message sealed.
    pub n: u32,
    /// The chain's lease: numbers below it may have been used ([`Ratchet::lease_sending`]).
    pub leased: u32,
}

/// One side of a channel's Double Ratchet. Seal outgoing and open incoming messages with it,
/// and persist it (serde) after every successful call.
#[derive(Serialize, Deserialize)]
pub struct Ratchet {
    chains: Chains,
    skipped: SkippedKeys,
    previous_remotes: VecDeque<[u8; 32]>,
    /// Fingerprints of the last [`RECENT_OPENED`] opened messages, oldest first.
    #[serde(default)]
    recent: VecDeque<Opened>,
    /// Whether the peer has sent a construction-3 message (from then on construction 2 is
    /// refused).
    #[serde(default)]
    peer_sends_nonces: bool,
}

impl Ratchet {
    /// Starts the initiator's ratchet with a fresh ratchet key from the operating system.
    ///
    /// `their_ratchet_public` is the responder's handshake ephemeral (from `Accepted`).
    ///
    /// # Errors
    ///
    /// [`RatchetError::NonContributory`] for a low-order key, [`RatchetError::Random`].
    pub fn init_initiator(
        root: RootSecret,
        their_ratchet_public: PublicKey,
    ) -> Result<Self, RatchetError> {
        let secret = OsRandom.next_ratchet_secret()?;
        Self::init_initiator_with(root, their_ratchet_public, &secret)
    }

    /// Starts the initiator's ratchet with the given first ratchet secret (deterministic, for
    /// test vectors). Performs the first DH ratchet step of the specification.
    ///
    /// # Errors
    ///
    /// [`RatchetError::NonContributory`] for a low-order `their_ratchet_public`.
    pub fn init_initiator_with(
        root: RootSecret,
        their_ratchet_public: PublicKey,
        my_ratchet_secret: &StaticSecret,
    ) -> Result<Self, RatchetError> {
        let (first_root, responder_chain) = kdf_init(&root)?;
        let pair = RatchetKeyPair::from_secret(my_ratchet_secret);
        let remote = their_ratchet_public.to_bytes();
        let (root, chain) = kdf_rk(&first_root, &pair.dh(&remote)?)?;
        Ok(Self::from_chains(Chains {
            root,
            sending: SendingChain {
                pair,
                chain,
                n: 0,
                leased: 0,
            },
            receiving: Some(ReceivingChain {
                remote,
                chain: responder_chain,
                n: 0,
            }),
            previous_sending_len: 0,
        }))
    }

    /// Starts the responder's ratchet. `my_ratchet_secret` is the responder's handshake
    /// ephemeral secret, whose public key the initiator received in `Accepted`.
    ///
    /// The responder can seal at once (on the responder chain, see the module documentation).
    ///
    /// # Errors
    ///
    /// Only [`RatchetError::KeyDerivation`], which cannot happen in practice.
    pub fn init_responder(
        root: RootSecret,
        my_ratchet_secret: &StaticSecret,
    ) -> Result<Self, RatchetError> {
        let (root, chain) = kdf_init(&root)?;
        Ok(Self::from_chains(Chains {
            root,
            sending: SendingChain {
                pair: RatchetKeyPair::from_secret(my_ratchet_secret),
                chain,
                n: 0,
                leased: 0,
            },
            receiving: None,
            previous_sending_len: 0,
        }))
    }

    fn from_chains(chains: Chains) -> Self {
        Self {
            chains,
            skipped: SkippedKeys::default(),
            previous_remotes: VecDeque::new(),
            recent: VecDeque::new(),
            peer_sends_nonces: false,
        }
    }

    /// Our current ratchet public key (the `dh` of the next sealed header).
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from(*self.chains.sending.pair.public())
    }

    /// How many skipped message keys are stored for late messages.
    pub fn skipped_keys(&self) -> usize {
        self.skipped.len()
    }

    /// Where the sending chain stands: the public key of its headers, the number of the next
    /// message, and its lease (see [`Ratchet::lease_sending`]).
    pub fn sending_position(&self) -> SendingPosition {
        let sending = &self.chains.sending;
        SendingPosition {
            dh: *sending.pair.public(),
            n: sending.n,
            leased: sending.leased,
        }
    }

    /// Leases the next `steps` message numbers of the sending chain: from now on the lease
    /// reaches `n + steps` (it never shrinks). A caller that stores this state durably may then
    /// send messages sealed below the lease before the state that follows them is durable:
    /// after a crash, [`Ratchet::resume_at_lease`] moves the chain past every number that may
    /// have been used, so no message key and no header is used twice.
    ///
    /// # Errors
    ///
    /// [`RatchetError::CounterOverflow`] when `n + steps` does not fit in a `u32`.
    pub fn lease_sending(&mut self, steps: u32) -> Result<u32, RatchetError> {
        let sending = &mut self.chains.sending;
        let until = sending
            .n
            .checked_add(steps)
            .ok_or(RatchetError::CounterOverflow)?;
        sending.leased = sending.leased.max(until);
        Ok(sending.leased)
    }

    /// Moves the sending chain to its lease: the keys of the numbers in between are derived
    /// and dropped, never used. Call it on a state read back after a restart, before sealing:
    /// messages sealed under the lease before a crash may have left although the state that
    /// counted them was lost. The peer keeps the keys of the numbers skipped (they are no
    /// more than the lease's length, bounded by [`MAX_SKIPPED_PER_CHAIN`] per chain when the
    /// lease is shorter). Doing it twice changes nothing. Answers how many numbers it skipped.
    ///
    /// # Errors
    ///
    /// [`RatchetError::TooManySkipped`] when the lease reaches more than [`MAX_SKIP`] past
    /// the chain (the peer would refuse the next message); the state is then unchanged.
    pub fn resume_at_lease(&mut self) -> Result<u32, RatchetError> {
        let sending = &mut self.chains.sending;
        let skipped = sending.leased.saturating_sub(sending.n);
        if skipped > MAX_SKIP {
            return Err(RatchetError::TooManySkipped {
                requested: sending.leased,
                max: MAX_SKIP,
            });
        }
        let mut chain = sending.chain.clone();
        for _ in 0..skipped {
            let (next, _unused) = kdf_ck(&chain)?;
            chain = next;
        }
        sending.chain = chain;
        sending.n = sending.n.max(sending.leased);
        Ok(skipped)
    }

    /// Encrypts `plaintext`, authenticating `ad` (for example channel id and sender) and the
    /// header, with a random nonce from the operating system.
    ///
    /// # Errors
    ///
    /// [`RatchetError::CounterOverflow`] after 2³² messages in one chain,
    /// [`RatchetError::MessageTooLong`], [`RatchetError::Random`].
    pub fn seal(&mut self, plaintext: &[u8], ad: &[u8]) -> Result<Sealed, RatchetError> {
        self.seal_with(plaintext, ad, &mut OsRandom)
    }

    /// [`Ratchet::seal`] with the nonce taken from `keys` (deterministic, for test vectors).
    ///
    /// # Errors
    ///
    /// As [`Ratchet::seal`].
    pub fn seal_with(
        &mut self,
        plaintext: &[u8],
        ad: &[u8],
        keys: &mut impl KeySource,
    ) -> Result<Sealed, RatchetError> {
        let nonce = keys.next_nonce()?;
        let sending = &self.chains.sending;
        let header = Header {
            dh: *sending.pair.public(),
            prev_chain_len: self.chains.previous_sending_len,
            n: sending.n,
        };
        let next_n = sending
            .n
            .checked_add(1)
            .ok_or(RatchetError::CounterOverflow)?;
        let (next_chain, key) = kdf_ck(&sending.chain)?;
        let ciphertext = key.seal(&nonce, plaintext, associated_data(ad, &header).as_slice())?;
        let sending = &mut self.chains.sending;
        sending.chain = next_chain;
        sending.n = next_n;
        Ok(Sealed {
            header,
            ciphertext,
            nonce: Some(nonce),
        })
    }

    /// Decrypts a message from the peer, drawing a new ratchet key from the operating system
    /// when the peer's turn brings a new ratchet public key.
    ///
    /// # Errors
    ///
    /// See [`Ratchet::open_with`].
    pub fn open(&mut self, sealed: &Sealed, ad: &[u8]) -> Result<Vec<u8>, RatchetError> {
        self.open_with(sealed, ad, &mut OsRandom)
    }

    /// Decrypts a message from the peer, taking any new ratchet secret from `keys`
    /// (drawn only when the message opens and starts a new turn), at the system clock's time.
    ///
    /// # Errors
    ///
    /// See [`Ratchet::open_at`].
    pub fn open_with(
        &mut self,
        sealed: &Sealed,
        ad: &[u8],
        keys: &mut impl KeySource,
    ) -> Result<Vec<u8>, RatchetError> {
        self.open_at(sealed, ad, keys, system_now_ms())
    }

    /// Decrypts a message from the peer at time `now_ms` (ms since the Unix epoch, which
    /// stamps new skipped keys and expires old ones), taking any new ratchet secret from `keys`.
    ///
    /// # Errors
    ///
    /// [`RatchetError::Tampered`], [`RatchetError::Replay`], [`RatchetError::HeaderReused`],
    /// [`RatchetError::Downgrade`], [`RatchetError::TooManySkipped`],
    /// [`RatchetError::NonContributory`], [`RatchetError::Random`]. On any error the state is
    /// unchanged, so a later legitimate message still opens.
    pub fn open_at(
        &mut self,
        sealed: &Sealed,
        ad: &[u8],
        keys: &mut impl KeySource,
        now_ms: u64,
    ) -> Result<Vec<u8>, RatchetError> {
        if sealed.nonce.is_none() && self.peer_sends_nonces {
            return Err(RatchetError::Downgrade);
        }
        let header = &sealed.header;
        let aad = associated_data(ad, header);
        let aad = aad.as_slice();
        let digest = fingerprint(sealed);
        if let Some(seen) = self
            .recent
            .iter()
            .find(|o| o.n == header.n && o.dh == header.dh)
        {
            return Err(if seen.digest == digest {
                RatchetError::Replay
            } else {
                RatchetError::HeaderReused { n: header.n }
            });
        }
        let plaintext = self.open_unrecorded(sealed, aad, keys, now_ms)?;
        self.recent.push_back(Opened {
            dh: header.dh,
            n: header.n,
            digest,
        });
        if self.recent.len() > RECENT_OPENED {
            self.recent.pop_front();
        }
        if sealed.nonce.is_some() {
            self.peer_sends_nonces = true;
        }
        self.skipped.prune(now_ms);
        Ok(plaintext)
    }

    /// Opens with a skipped key, the current receiving chain or a new turn.
    fn open_unrecorded(
        &mut self,
        sealed: &Sealed,
        aad: &[u8],
        keys: &mut impl KeySource,
        now_ms: u64,
    ) -> Result<Vec<u8>, RatchetError> {
        let header = &sealed.header;
        let nonce = sealed.nonce.as_ref();
        if let Some((position, key)) = self.skipped.find(&header.dh, header.n, now_ms) {
            let plaintext = key.open(nonce, &sealed.ciphertext, aad)?;
            self.skipped.remove(position);
            return Ok(plaintext);
        }

        let mut staged = Vec::new();
        match &self.chains.receiving {
            // The common case, the peer's current chain: only the receiving chain changes.
            Some(current) if current.remote == header.dh => {
                if header.n < current.n {
                    return Err(RatchetError::Replay);
                }
                let mut receiving = current.clone();
                receiving.skip_until(header.n, &mut staged)?;
                let plaintext = receiving.next_key()?.open(nonce, &sealed.ciphertext, aad)?;
                self.chains.receiving = Some(receiving);
                self.skipped.extend(staged, now_ms);
                return Ok(plaintext);
            }
            _ if self.previous_remotes.contains(&header.dh) => return Err(RatchetError::Replay),
            _ => {}
        }

        // A new turn: finish the peer's previous chain, then a DH ratchet step.
        let mut next = self.chains.clone();
        let old_remote = next.receiving.as_ref().map(|r| r.remote);
        if let Some(mut previous) = next.receiving.take() {
            previous.skip_until(header.prev_chain_len, &mut staged)?;
        }
        let mut receiving = next.new_receiving(header.dh)?;
        receiving.skip_until(header.n, &mut staged)?;
        let plaintext = receiving.next_key()?.open(nonce, &sealed.ciphertext, aad)?;
        next.receiving = Some(receiving);
        next.new_sending(&keys.next_ratchet_secret()?, &header.dh)?;
        if let Some(old_remote) = old_remote {
            self.previous_remotes.push_back(old_remote);
            if self.previous_remotes.len() > MAX_PREVIOUS_REMOTES {
                self.previous_remotes.pop_front();
            }
        }
        self.chains = next;
        self.skipped.extend(staged, now_ms);
        Ok(plaintext)
    }
}

impl fmt::Debug for Ratchet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let receiving = self.chains.receiving.as_ref();
        f.debug_struct("Ratchet")
            .field("secrets", &"REDACTED")
            .field("sending_public", &Hex(self.chains.sending.pair.public()))
            .field("sent_in_chain", &self.chains.sending.n)
            .field("previous_chain_len", &self.chains.previous_sending_len)
            .field("receiving_public", &receiving.map(|r| Hex(&r.remote)))
            .field("received_in_chain", &receiving.map(|r| r.n))
            .field("skipped_keys", &self.skipped.len())
            .finish()
    }
}
