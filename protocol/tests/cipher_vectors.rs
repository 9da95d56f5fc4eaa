//! Published test vectors of the earlier constructions, still accepted: handshake 1 (from a
//! peer whose request names no pre-key) and message construction 2 (no nonce, ChaCha20-Poly1305
//! with a zero nonce, opened but no longer sealed).
//!
//! `tests/vectors/handshake_1.json` is recomputed here from its own inputs, field by field;
//! every message of `tests/vectors/ratchet_construction_2.json` must still open. The vectors
//! of the current constructions (handshake 2, construction 3) are in `end_to_end_vectors.rs`.
//! To print these again:
//!
//! ```text
//! cargo test -p ochat-protocol --test cipher_vectors -- --ignored --nocapture print_vectors
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::VecDeque;

use ochat_protocol::agreement::{
    AgreementError, ROOT_INFO, Role, RootSecret, TRANSCRIPT_DOMAIN, derive_root, transcript_hash,
};
use ochat_protocol::random::RandomError;
use ochat_protocol::ratchet::{Header, KeySource, Ratchet, Sealed};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

const HANDSHAKE_JSON: &str = include_str!("vectors/handshake_1.json");
const RATCHET_JSON: &str = include_str!("vectors/ratchet_construction_2.json");

const HANDSHAKE_DESCRIPTION: &str = "ochat v1 channel key agreement. All byte strings are hex. \
Public keys are X25519(secret, 9). DH1 = X25519(initiator.ephemeral_secret, responder.ephemeral_public), \
DH2 = X25519(initiator.ephemeral_secret, responder.prekey_public), \
DH3 = X25519(initiator.prekey_secret, responder.ephemeral_public); the responder computes the same three \
values from its side. transcript_hash = SHA-256(u64be(len(transcript_domain)) || transcript_domain || \
for each part: u64be(len(part)) || part), the parts being the signed request bytes then the signed answer \
bytes. root_secret = HKDF-SHA256(salt = transcript_hash, ikm = DH1 || DH2 || DH3, info = root_info), 32 bytes. \
Any all-zero DH output (for example with one of non_contributory_public_keys) must abort the agreement.";

const RATCHET_DESCRIPTION: &str = "ochat Double Ratchet (Signal specification), message construction 2 (/ochat/msg/2), over \
the root_secret of handshake.json. All byte strings are hex. KDF_INIT(SK) = HKDF-SHA256(salt = none, ikm = SK, \
info = 'ochat/v1/ratchet-init') -> 64 bytes: RK0 || responder chain key. KDF_RK(RK, dh) = HKDF-SHA256(salt = RK, \
ikm = dh, info = 'ochat/v1/ratchet') -> 64 bytes: new RK || chain key. KDF_CK(CK): message key = \
HMAC-SHA256(CK, 0x01), next CK = HMAC-SHA256(CK, 0x02). The message key MK is the ChaCha20-Poly1305 key \
and the nonce is 12 zero bytes (each key seals one message); ciphertext includes the 16-byte tag; \
AEAD associated data = ad || header, header = dh (32) || u32be(prev_chain_len) || u32be(n). \
Alice (initiator) starts with RK0, her initial ratchet secret, Bob's ratchet public = responder's handshake \
ephemeral: (RK, sending CK) = KDF_RK(RK0, X25519(alice_initial, bob_initial_public)), receiving chain = the \
responder chain key under Bob's initial public key. Bob (responder) starts with RK = RK0, sending chain = the \
responder chain key under his initial ratchet key (= his handshake ephemeral), no receiving chain. On a \
message with a new dh the receiver stores skipped keys of its old receiving chain up to prev_chain_len, does \
(RK, receiving CK) = KDF_RK(RK, X25519(own ratchet secret, dh)), takes the next secret from its *_ratchet_secrets \
list as new ratchet key and does (RK, sending CK) = KDF_RK(RK, X25519(new secret, dh)). Messages are listed in \
sending order; each is delivered and opened by the other side before the next one is sent.";

/// Hex helpers (the `hex` dev-dependency, with test-friendly failure).
fn hx(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string")).expect("valid hex")
}

fn unhex32(value: &Value) -> [u8; 32] {
    unhex(value).try_into().expect("32 bytes")
}

fn label_secret(label: &str) -> [u8; 32] {
    Sha256::digest(label.as_bytes()).into()
}

fn public_of(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

// ---------------------------------------------------------------- handshake

struct HandshakeInputs {
    initiator_ephemeral: [u8; 32],
    initiator_prekey: [u8; 32],
    responder_ephemeral: [u8; 32],
    responder_prekey: [u8; 32],
    parts: Vec<Vec<u8>>,
    low_order: Vec<[u8; 32]>,
}

fn fixed_handshake_inputs() -> HandshakeInputs {
    let mut one = [0u8; 32];
    one[0] = 1;
    let order_eight: [u8; 32] =
        hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
            .expect("hex")
            .try_into()
            .expect("32 bytes");
    let mut p_minus_one = [0xffu8; 32];
    p_minus_one[0] = 0xec;
    p_minus_one[31] = 0x7f;
    HandshakeInputs {
        initiator_ephemeral: label_secret("ochat test vector: initiator ephemeral"),
        initiator_prekey: label_secret("ochat test vector: initiator signed pre-key"),
        responder_ephemeral: label_secret("ochat test vector: responder ephemeral"),
        responder_prekey: label_secret("ochat test vector: responder signed pre-key"),
        parts: vec![
            b"stand-in for the signed ConnectionRequest bytes".to_vec(),
            b"stand-in for the signed Accepted bytes".to_vec(),
        ],
        low_order: vec![[0u8; 32], one, order_eight, p_minus_one],
    }
}

fn handshake_inputs_from(v: &Value) -> HandshakeInputs {
    HandshakeInputs {
        initiator_ephemeral: unhex32(&v["initiator"]["ephemeral_secret"]),
        initiator_prekey: unhex32(&v["initiator"]["prekey_secret"]),
        responder_ephemeral: unhex32(&v["responder"]["ephemeral_secret"]),
        responder_prekey: unhex32(&v["responder"]["prekey_secret"]),
        parts: v["transcript_parts"]
            .as_array()
            .expect("parts")
            .iter()
            .map(unhex)
            .collect(),
        low_order: v["non_contributory_public_keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(unhex32)
            .collect(),
    }
}

fn dh(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    StaticSecret::from(*secret)
        .diffie_hellman(&PublicKey::from(*public))
        .to_bytes()
}

fn root_of(
    role: Role,
    mine: (&[u8; 32], &[u8; 32]),
    theirs: (&[u8; 32], &[u8; 32]),
    th: &[u8; 32],
) -> RootSecret {
    derive_root(
        role,
        &StaticSecret::from(*mine.0),
        &StaticSecret::from(*mine.1),
        &PublicKey::from(public_of(theirs.0)),
        &PublicKey::from(public_of(theirs.1)),
        th,
    )
    .expect("contributory")
}

/// Computes the whole handshake vector from its inputs, checking both roles agree.
fn handshake_vector(i: &HandshakeInputs) -> Value {
    let parts: Vec<&[u8]> = i.parts.iter().map(Vec::as_slice).collect();
    let th = transcript_hash(&parts);
    let initiator = (&i.initiator_ephemeral, &i.initiator_prekey);
    let responder = (&i.responder_ephemeral, &i.responder_prekey);
    let root = root_of(Role::Initiator, initiator, responder, &th);
    let responder_root = root_of(Role::Responder, responder, initiator, &th);
    assert_eq!(
        root.as_bytes(),
        responder_root.as_bytes(),
        "both roles agree"
    );

    for low in &i.low_order {
        let refused = derive_root(
            Role::Initiator,
            &StaticSecret::from(i.initiator_ephemeral),
            &StaticSecret::from(i.initiator_prekey),
            &PublicKey::from(*low),
            &PublicKey::from(public_of(&i.responder_prekey)),
            &th,
        );
        assert!(
            matches!(refused, Err(AgreementError::NonContributory)),
            "{}",
            hx(low)
        );
    }

    let party = |eph: &[u8; 32], pre: &[u8; 32]| {
        json!({
            "ephemeral_secret": hx(eph),
            "ephemeral_public": hx(&public_of(eph)),
            "prekey_secret": hx(pre),
            "prekey_public": hx(&public_of(pre)),
        })
    };
    json!({
        "description": HANDSHAKE_DESCRIPTION,
        "transcript_domain": String::from_utf8_lossy(TRANSCRIPT_DOMAIN),
        "root_info": String::from_utf8_lossy(ROOT_INFO),
        "initiator": party(&i.initiator_ephemeral, &i.initiator_prekey),
        "responder": party(&i.responder_ephemeral, &i.responder_prekey),
        "transcript_parts": i.parts.iter().map(|p| hx(p)).collect::<Vec<_>>(),
        "transcript_hash": hx(&th),
        "dh1": hx(&dh(&i.initiator_ephemeral, &public_of(&i.responder_ephemeral))),
        "dh2": hx(&dh(&i.initiator_ephemeral, &public_of(&i.responder_prekey))),
        "dh3": hx(&dh(&i.initiator_prekey, &public_of(&i.responder_ephemeral))),
        "root_secret": hx(root.as_bytes()),
        "non_contributory_public_keys": i.low_order.iter().map(|k| hx(k)).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------- ratchet

/// Ratchet secrets taken from a fixed list, in order.
struct ListedKeys(VecDeque<[u8; 32]>);

impl KeySource for ListedKeys {
    fn next_ratchet_secret(&mut self) -> Result<StaticSecret, RandomError> {
        Ok(StaticSecret::from(
            self.0
                .pop_front()
                .expect("the vector lists enough ratchet secrets"),
        ))
    }
}

struct RatchetInputs {
    root: [u8; 32],
    alice_initial: [u8; 32],
    bob_initial: [u8; 32],
    alice_secrets: Vec<[u8; 32]>,
    bob_secrets: Vec<[u8; 32]>,
    /// (sender, associated data, plaintext)
    script: Vec<(String, Vec<u8>, Vec<u8>)>,
}

fn fixed_ratchet_inputs(handshake: &Value) -> RatchetInputs {
    let ad = |from: &str| {
        format!("channel:0192d1c4-5e6f-7a8b-9c0d-e1f2a3b4c5d6|from:{from}").into_bytes()
    };
    let line = |from: &str, text: &str| (from.to_owned(), ad(from), text.as_bytes().to_vec());
    RatchetInputs {
        root: unhex32(&handshake["root_secret"]),
        alice_initial: label_secret("ochat test vector: alice ratchet 0"),
        bob_initial: unhex32(&handshake["responder"]["ephemeral_secret"]),
        alice_secrets: vec![
            label_secret("ochat test vector: alice ratchet 1"),
            label_secret("ochat test vector: alice ratchet 2"),
        ],
        bob_secrets: vec![
            label_secret("ochat test vector: bob ratchet 1"),
            label_secret("ochat test vector: bob ratchet 2"),
        ],
        script: vec![
            line("bob", "Welcome! The responder may speak first."),
            line("alice", "Hello Bob."),
            line("alice", "Second line, same chain."),
            line("bob", "Hi Alice, this is my new ratchet key."),
            line("alice", "A new turn for me too."),
            line("bob", "Bye."),
        ],
    }
}

fn ratchet_inputs_from(v: &Value) -> RatchetInputs {
    let list = |key: &str| {
        v[key]
            .as_array()
            .expect("list")
            .iter()
            .map(unhex32)
            .collect()
    };
    RatchetInputs {
        root: unhex32(&v["root_secret"]),
        alice_initial: unhex32(&v["alice_initial_ratchet_secret"]),
        bob_initial: unhex32(&v["bob_initial_ratchet_secret"]),
        alice_secrets: list("alice_ratchet_secrets"),
        bob_secrets: list("bob_ratchet_secrets"),
        script: v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                let sender = m["sender"].as_str().expect("sender").to_owned();
                (sender, unhex(&m["ad"]), unhex(&m["plaintext"]))
            })
            .collect(),
    }
}

/// Runs the scripted conversation and returns the whole ratchet vector.
fn ratchet_vector(i: &RatchetInputs) -> Value {
    let bob_initial = StaticSecret::from(i.bob_initial);
    let mut alice = Ratchet::init_initiator_with(
        RootSecret::from_bytes(i.root),
        PublicKey::from(&bob_initial),
        &StaticSecret::from(i.alice_initial),
    )
    .expect("alice init");
    let mut bob =
        Ratchet::init_responder(RootSecret::from_bytes(i.root), &bob_initial).expect("bob init");
    let mut alice_keys = ListedKeys(i.alice_secrets.iter().copied().collect());
    let mut bob_keys = ListedKeys(i.bob_secrets.iter().copied().collect());

    let mut messages = Vec::new();
    for (sender, ad, plaintext) in &i.script {
        let (from, to, to_keys) = match sender.as_str() {
            "alice" => (&mut alice, &mut bob, &mut bob_keys),
            "bob" => (&mut bob, &mut alice, &mut alice_keys),
            other => panic!("unknown sender {other}"),
        };
        let sealed = from.seal(plaintext, ad).expect("seal");
        let header = sealed.header.to_bytes();
        assert_eq!(Header::from_bytes(&header).expect("header"), sealed.header);
        let wire = Sealed {
            header: Header::from_bytes(&header).expect("header"),
            ciphertext: sealed.ciphertext.clone(),
            nonce: sealed.nonce,
        };
        assert_eq!(&to.open_with(&wire, ad, to_keys).expect("open"), plaintext);
        messages.push(json!({
            "sender": sender,
            "ad": hx(ad),
            "plaintext": hx(plaintext),
            "plaintext_utf8": String::from_utf8_lossy(plaintext),
            "header": hx(&header),
            "header_dh": hx(&sealed.header.dh),
            "header_prev_chain_len": sealed.header.prev_chain_len,
            "header_n": sealed.header.n,
            "ciphertext": hx(&sealed.ciphertext),
        }));
    }
    assert!(
        alice_keys.0.is_empty() && bob_keys.0.is_empty(),
        "every listed secret is used"
    );

    json!({
        "description": RATCHET_DESCRIPTION,
        "root_secret": hx(&i.root),
        "alice_initial_ratchet_secret": hx(&i.alice_initial),
        "alice_initial_ratchet_public": hx(&public_of(&i.alice_initial)),
        "bob_initial_ratchet_secret": hx(&i.bob_initial),
        "bob_initial_ratchet_public": hx(&public_of(&i.bob_initial)),
        "alice_ratchet_secrets": i.alice_secrets.iter().map(|s| hx(s)).collect::<Vec<_>>(),
        "bob_ratchet_secrets": i.bob_secrets.iter().map(|s| hx(s)).collect::<Vec<_>>(),
        "messages": messages,
    })
}

fn published(json: &str) -> Value {
    serde_json::from_str(json).expect("vector file is JSON")
}

// ---------------------------------------------------------------- tests

#[test]
fn the_published_handshake_vector_is_reproduced_from_its_inputs() {
    let file = published(HANDSHAKE_JSON);
    let computed = handshake_vector(&handshake_inputs_from(&file));
    assert_eq!(computed, file);
}

#[test]
fn the_published_handshake_vector_uses_the_documented_fixed_inputs() {
    let file = published(HANDSHAKE_JSON);
    assert_eq!(handshake_vector(&fixed_handshake_inputs()), file);
}

/// Every construction-2 message of the published vector still opens, in order, on both sides.
#[test]
fn the_construction_2_messages_still_open() {
    let file = published(RATCHET_JSON);
    let i = ratchet_inputs_from(&file);
    let bob_initial = StaticSecret::from(i.bob_initial);
    let mut alice = Ratchet::init_initiator_with(
        RootSecret::from_bytes(i.root),
        PublicKey::from(&bob_initial),
        &StaticSecret::from(i.alice_initial),
    )
    .expect("alice init");
    let mut bob =
        Ratchet::init_responder(RootSecret::from_bytes(i.root), &bob_initial).expect("bob init");
    let mut alice_keys = ListedKeys(i.alice_secrets.iter().copied().collect());
    let mut bob_keys = ListedKeys(i.bob_secrets.iter().copied().collect());
    for m in file["messages"].as_array().expect("messages") {
        let (to, keys) = match m["sender"].as_str() {
            Some("alice") => (&mut bob, &mut bob_keys),
            _ => (&mut alice, &mut alice_keys),
        };
        let sealed = Sealed {
            header: Header::from_bytes(&unhex(&m["header"])).expect("header"),
            ciphertext: unhex(&m["ciphertext"]),
            nonce: None,
        };
        let opened = to
            .open_with(&sealed, &unhex(&m["ad"]), keys)
            .expect("opens");
        assert_eq!(opened, unhex(&m["plaintext"]));
    }
    // The construction-2 file is what this code sealed before; its handshake is handshake_1.
    let handshake = published(HANDSHAKE_JSON);
    assert_eq!(file["root_secret"], handshake["root_secret"]);
    let _ = fixed_ratchet_inputs(&handshake);
}

#[test]
fn the_ratchet_vector_covers_both_directions_and_dh_steps() {
    let ratchet = published(RATCHET_JSON);
    let messages = ratchet["messages"].as_array().expect("messages");
    let distinct_keys: std::collections::BTreeSet<_> = messages
        .iter()
        .map(|m| m["header_dh"].as_str().expect("dh"))
        .collect();
    assert!(messages.iter().any(|m| m["sender"] == "alice"));
    assert!(messages.iter().any(|m| m["sender"] == "bob"));
    assert!(distinct_keys.len() >= 4, "several DH ratchet steps");
    assert!(
        messages
            .iter()
            .any(|m| m["header_prev_chain_len"].as_u64() > Some(0))
    );
}

#[test]
fn a_flipped_ciphertext_bit_in_the_vector_does_not_open() {
    let file = published(RATCHET_JSON);
    let inputs = ratchet_inputs_from(&file);
    let first = &file["messages"][0];
    let mut ciphertext = unhex(&first["ciphertext"]);
    ciphertext[0] ^= 1;
    let sealed = Sealed {
        header: Header::from_bytes(&unhex(&first["header"])).expect("header"),
        ciphertext,
        nonce: None,
    };
    let mut alice = Ratchet::init_initiator_with(
        RootSecret::from_bytes(inputs.root),
        PublicKey::from(public_of(&inputs.bob_initial)),
        &StaticSecret::from(inputs.alice_initial),
    )
    .expect("init");
    assert!(
        alice
            .open_with(
                &sealed,
                &unhex(&first["ad"]),
                &mut ListedKeys(VecDeque::new())
            )
            .is_err()
    );
}

/// Recomputes the first message from the documented formulas alone, without the ratchet: Bob
/// speaks first on the responder chain key, so its key is HMAC(KDF_INIT(SK)[32..], 0x01).
#[test]
fn the_first_message_is_chacha20_poly1305_under_the_message_key_with_a_zero_nonce() {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    use hkdf::hmac::{Hmac, Mac};

    let v = published(RATCHET_JSON);
    let mut okm = [0u8; 64];
    hkdf::Hkdf::<Sha256>::new(None, &unhex(&v["root_secret"]))
        .expand(b"ochat/v1/ratchet-init", &mut okm)
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&okm[32..]).unwrap();
    mac.update(&[0x01]);
    let message_key = mac.finalize().into_bytes();

    let first = &v["messages"][0];
    assert_eq!(first["sender"], "bob");
    let mut aad = unhex(&first["ad"]);
    aad.extend_from_slice(&unhex(&first["header"]));
    let cipher = ChaCha20Poly1305::new_from_slice(&message_key).unwrap();
    let sealed = cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: &unhex(&first["plaintext"]),
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(hx(&sealed), first["ciphertext"].as_str().unwrap());
}

#[test]
#[ignore = "prints freshly generated vectors; run by hand to regenerate the JSON files"]
fn print_vectors() {
    // Construction 3 now: the ratchet vector printed is not the construction-2 file.
    let handshake = handshake_vector(&fixed_handshake_inputs());
    let ratchet = ratchet_vector(&fixed_ratchet_inputs(&handshake));
    println!(
        "=== handshake.json\n{}",
        serde_json::to_string_pretty(&handshake).expect("json")
    );
    println!(
        "=== ratchet.json\n{}",
        serde_json::to_string_pretty(&ratchet).expect("json")
    );
}
