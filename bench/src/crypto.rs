//! Group `crypto`: seal + open of a 1 KiB message through the channel's Double Ratchet (a new
//! message key per message, header authenticated) against raw ChaCha20-Poly1305 of the same
//! 1 KiB with one fixed key, in the same build.

use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ochat_protocol::agreement::RootSecret;
use ochat_protocol::ratchet::Ratchet;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::measure::{Sample, alternate};
use crate::opts::Opts;
use crate::table::{Row, Target};

const GROUP: &str = "crypto";
const SIZE: usize = 1024;

/// Alice seals `count` messages, Bob opens each: seal+open per second.
fn ratchet_round(count: usize) -> Result<Sample> {
    let bob_secret = StaticSecret::from([7u8; 32]);
    let bob_public = PublicKey::from(&bob_secret);
    let mut alice = Ratchet::init_initiator(RootSecret::from_bytes([1u8; 32]), bob_public)
        .map_err(|e| anyhow!("initiator: {e}"))?;
    let mut bob = Ratchet::init_responder(RootSecret::from_bytes([1u8; 32]), &bob_secret)
        .map_err(|e| anyhow!("responder: {e}"))?;
    let plaintext = vec![0x5au8; SIZE];
    let ad = b"channel:bench|from:alice";
    let start = Instant::now();
    for _ in 0..count {
        let sealed = alice
            .seal(&plaintext, ad)
            .map_err(|e| anyhow!("seal: {e}"))?;
        let opened = bob.open(&sealed, ad).map_err(|e| anyhow!("open: {e}"))?;
        if opened.len() != SIZE {
            return Err(anyhow!("opened {} bytes, sealed {SIZE}", opened.len()));
        }
    }
    Ok(Sample::rate(count, start.elapsed()))
}

/// The same work with one fixed key and counter nonces: no key derivation, no header.
fn raw_round(count: usize) -> Result<Sample> {
    let key: &Key = (&[3u8; 32]).into();
    let cipher = ChaCha20Poly1305::new(key);
    let plaintext = vec![0x5au8; SIZE];
    let ad = b"channel:bench|from:alice";
    let start = Instant::now();
    for i in 0..count {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let nonce = &Nonce::from(nonce);
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: &plaintext,
                    aad: ad,
                },
            )
            .map_err(|e| anyhow!("encrypt: {e}"))?;
        let opened = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed,
                    aad: ad,
                },
            )
            .map_err(|e| anyhow!("decrypt: {e}"))?;
        if opened.len() != SIZE {
            return Err(anyhow!("opened {} bytes, sealed {SIZE}", opened.len()));
        }
    }
    Ok(Sample::rate(count, start.elapsed()))
}

/// Runs the group.
pub async fn run(opts: &Opts) -> Result<Vec<Row>> {
    let count = opts.scale(50_000);
    let pair = alternate(
        opts,
        async || ratchet_round(count),
        async || raw_round(count),
    )
    .await
    .context("crypto rounds")?;
    Ok(vec![Row::new(
        GROUP,
        "seal + open of 1 KiB, ratchet vs raw ChaCha20-Poly1305",
        "ops/s",
        true,
        pair.medians(),
        Target::AtLeast(0.8),
    )])
}
