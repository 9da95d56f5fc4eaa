//! The UUID directory, as its users see it: organisations publish their signed instance record
//! under their Instance UUID, others find it by the UUID alone, and nobody — not another
//! organisation, not the directory itself — can take an entry over or hand out a forged one.
//!
//! Real servers on 127.0.0.1 (ports from the OS), real sled folders in temporary directories,
//! driven through `DirectoryClient` and raw HTTP (the command line: `directory_cli.rs`).

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use ochat_node::directory::{
    DirectoryClient, DirectoryConfig, DirectoryError, DirectoryServer, RateLimit, RecordDto,
    RunningDirectory,
};
use ochat_protocol::identity::{IdentityKey, InstanceId};
use ochat_protocol::record::{InstanceRecord, RecordError, SignedRecord, verify_record};
use serde_json::{Value, json};

/// The longest any single step may take.
const WAIT: Duration = Duration::from_secs(10);

/// Awaits `step`, failing the test if it takes longer than [`WAIT`].
async fn within<T>(what: &str, step: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, step).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {WAIT:?}"),
    }
}

/// An organisation: its identity key and the current version of its record.
struct Org {
    key: IdentityKey,
    record: InstanceRecord,
}

impl Org {
    fn new(name: &str) -> Self {
        let key = IdentityKey::generate().unwrap();
        let record = InstanceRecord {
            uuid: InstanceId::generate(),
            name: name.into(),
            identity: key.public(),
            prekey: [3; 32],
            addresses: vec!["/ip4/192.0.2.10/tcp/4001".into()],
            seq: 1,
            signed_at_ms: 1_700_000_000_000,
        };
        Org { key, record }
    }

    /// An organisation created since UUIDs are derived from keys: its UUID is its key's own.
    fn derived(name: &str) -> Self {
        let mut org = Org::new(name);
        org.record.uuid = InstanceId::derived_from(&org.key.public());
        org
    }

    /// Someone with their own key who claims `victim`'s UUID.
    fn impostor_of(victim: &Org) -> Self {
        let mut mallory = Org::new("Not really Acme");
        mallory.record.uuid = victim.uuid();
        mallory.record.seq = victim.record.seq + 100;
        mallory
    }

    fn uuid(&self) -> InstanceId {
        self.record.uuid
    }

    fn signed(&self) -> SignedRecord {
        self.record.sign(&self.key).unwrap()
    }

    /// Moves to a new address and signs the next version of the record.
    fn moves_to(&mut self, address: &str) -> SignedRecord {
        self.record.addresses = vec![address.into()];
        self.record.seq += 1;
        self.signed()
    }
}

fn any_local_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start_directory(folder: &Path) -> RunningDirectory {
    within(
        "starting the directory",
        DirectoryServer::start(folder, any_local_port()),
    )
    .await
    .unwrap()
}

fn client_of(directory: &RunningDirectory) -> DirectoryClient {
    DirectoryClient::new(&format!("http://{}", directory.addr)).unwrap()
}

async fn publish(client: &DirectoryClient, record: &SignedRecord) -> Result<(), DirectoryError> {
    within("publishing", client.publish(record)).await
}

async fn lookup(client: &DirectoryClient, uuid: InstanceId) -> Option<SignedRecord> {
    within("looking up", client.lookup(uuid)).await.unwrap()
}

/// Plain HTTP, to see the statuses and error codes the directory answers.
struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    fn new(directory: &RunningDirectory) -> Self {
        let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
        Raw {
            http,
            base: format!("http://{}", directory.addr),
        }
    }

    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let bytes = within("reading an answer", response.bytes()).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn put_bytes(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let request = self
            .http
            .put(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send();
        Self::answer(within("a PUT", request).await.unwrap()).await
    }

    async fn put(&self, uuid: impl std::fmt::Display, body: Value) -> (u16, Value) {
        let path = format!("/v1/instances/{uuid}");
        self.put_bytes(&path, body.to_string().into_bytes()).await
    }

    async fn put_record(&self, uuid: InstanceId, record: &SignedRecord) -> (u16, Value) {
        self.put(uuid, json!(RecordDto::from(record))).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let request = self.http.get(format!("{}{path}", self.base)).send();
        Self::answer(within("a GET", request).await.unwrap()).await
    }
}

fn code(answer: &(u16, Value)) -> &str {
    answer.1["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn an_organisation_publishes_its_record_and_another_finds_it_by_uuid() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let acme = Org::new("Acme");

    publish(&client_of(&directory), &acme.signed())
        .await
        .unwrap();

    // Globex only knows Acme's UUID; its own client finds the very record Acme signed.
    let globex = client_of(&directory);
    let found = lookup(&globex, acme.uuid()).await.expect("Acme is listed");
    assert_eq!(found, acme.signed());
    let record = verify_record(&found).unwrap();
    assert_eq!(record.name, "Acme");
    assert_eq!(record.identity, acme.key.public());
    assert_eq!(record.addresses, ["/ip4/192.0.2.10/tcp/4001"]);

    // Over plain HTTP: a first claim is 201, the record comes back as hex JSON.
    let raw = Raw::new(&directory);
    let initech = Org::new("Initech");
    assert_eq!(
        raw.put_record(initech.uuid(), &initech.signed()).await.0,
        201
    );
    let (status, body) = raw.get(&format!("/v1/instances/{}", initech.uuid())).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!(RecordDto::from(&initech.signed())));
    assert_eq!(raw.get("/v1/health").await.0, 200);

    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn an_unknown_uuid_is_simply_not_found() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let raw = Raw::new(&directory);

    assert_eq!(
        lookup(&client_of(&directory), InstanceId::generate()).await,
        None
    );
    let unknown = raw
        .get(&format!("/v1/instances/{}", InstanceId::generate()))
        .await;
    assert_eq!((unknown.0, code(&unknown)), (404, "not_found"));

    let malformed = raw.get("/v1/instances/not-a-uuid").await;
    assert_eq!(malformed.0, 400);
    assert!(
        malformed.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-a-uuid")
    );

    // A client pointed at the wrong URL is told so, rather than hearing "not found".
    let misconfigured = DirectoryClient::new(&format!("http://{}/wrong", directory.addr)).unwrap();
    let err = within("looking up", misconfigured.lookup(InstanceId::generate())).await;
    assert!(matches!(err, Err(DirectoryError::BadAnswer(_))), "{err:?}");

    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn nobody_can_take_over_a_uuid_that_is_already_claimed() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let client = client_of(&directory);
    let acme = Org::new("Acme");
    publish(&client, &acme.signed()).await.unwrap();

    // Mallory signs an honest record with her own key, but for Acme's UUID, with a higher seq.
    let mallory = Org::impostor_of(&acme);
    let err = publish(&client, &mallory.signed()).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::KeyMismatch { uuid } if uuid == acme.uuid()),
        "{err:?}"
    );
    let refused = Raw::new(&directory)
        .put_record(acme.uuid(), &mallory.signed())
        .await;
    assert_eq!((refused.0, code(&refused)), (403, "key_mismatch"));

    // Everyone still finds Acme's own record.
    assert_eq!(lookup(&client, acme.uuid()).await, Some(acme.signed()));
    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_squatter_cannot_claim_someone_elses_derived_uuid_even_before_its_owner() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let client = client_of(&directory);
    let raw = Raw::new(&directory);
    let acme = Org::derived("Acme");

    // Mallory learns Acme's UUID and publishes first, with her own key: refused, nothing stored.
    let mallory = Org::impostor_of(&acme);
    let refused = raw.put_record(acme.uuid(), &mallory.signed()).await;
    assert_eq!((refused.0, code(&refused)), (403, "key_mismatch"));
    let message = refused.1["error"]["message"].as_str().unwrap();
    assert!(message.contains("does not derive"), "{message}");
    let err = publish(&client, &mallory.signed()).await.unwrap_err();
    assert!(matches!(err, DirectoryError::Rejected(_)), "{err:?}");
    assert_eq!(lookup(&client, acme.uuid()).await, None);

    // Acme's own first publication is accepted, and found by everyone.
    assert_eq!(raw.put_record(acme.uuid(), &acme.signed()).await.0, 201);
    assert_eq!(lookup(&client, acme.uuid()).await, Some(acme.signed()));
    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn an_organisation_updates_its_record_with_a_higher_seq_only() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let client = client_of(&directory);
    let raw = Raw::new(&directory);
    let mut acme = Org::new("Acme");
    let first = acme.signed();
    publish(&client, &first).await.unwrap();

    // Acme moves; the new version (seq 2) replaces the old one.
    let moved = acme.moves_to("/ip4/198.51.100.7/tcp/4001");
    publish(&client, &moved).await.unwrap();
    assert_eq!(lookup(&client, acme.uuid()).await, Some(moved.clone()));

    // Replaying the old version (lower seq) is refused…
    let err = publish(&client, &first).await.unwrap_err();
    assert!(matches!(err, DirectoryError::StaleSeq { .. }), "{err:?}");
    let replay = raw.put_record(acme.uuid(), &first).await;
    assert_eq!((replay.0, code(&replay)), (409, "stale_seq"));

    // …and so is different content under the same seq.
    acme.record.name = "Acme renamed without a new seq".into();
    let same_seq = acme.signed();
    let err = publish(&client, &same_seq).await.unwrap_err();
    assert!(matches!(err, DirectoryError::StaleSeq { .. }), "{err:?}");

    // Publishing exactly what is stored again is harmless (a retry after a lost answer).
    publish(&client, &moved).await.unwrap();
    assert_eq!(raw.put_record(acme.uuid(), &moved).await.0, 200);

    assert_eq!(lookup(&client, acme.uuid()).await, Some(moved));
    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_tampered_or_malformed_record_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let raw = Raw::new(&directory);
    let acme = Org::new("Acme");
    let honest = acme.signed();

    let mut bad_signature = honest.clone();
    bad_signature.signature[0] ^= 1;
    let answer = raw.put_record(acme.uuid(), &bad_signature).await;
    assert_eq!((answer.0, code(&answer)), (400, "invalid_record"));

    let mut bad_body = honest.clone();
    let last = bad_body.body.len() - 1;
    bad_body.body[last] ^= 1;
    assert_eq!(raw.put_record(acme.uuid(), &bad_body).await.0, 400);

    let not_hex = raw
        .put(acme.uuid(), json!({"body": "xyz", "signature": "00"}))
        .await;
    assert_eq!((not_hex.0, code(&not_hex)), (400, "bad_request"));
    let not_json = raw
        .put_bytes(&format!("/v1/instances/{}", acme.uuid()), b"hello".to_vec())
        .await;
    assert_eq!((not_json.0, code(&not_json)), (400, "bad_request"));
    let huge = raw
        .put_bytes(
            &format!("/v1/instances/{}", acme.uuid()),
            vec![b' '; 64 * 1024],
        )
        .await;
    assert_eq!((huge.0, code(&huge)), (413, "payload_too_large"));

    // The client does not even send a record that does not verify.
    let err = publish(&client_of(&directory), &bad_signature)
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Rejected(_)), "{err:?}");

    // Nothing was stored along the way.
    let after = raw.get(&format!("/v1/instances/{}", acme.uuid())).await;
    assert_eq!(after.0, 404);
    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_record_cannot_be_filed_under_another_uuid() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let raw = Raw::new(&directory);
    let acme = Org::new("Acme");
    let globex = Org::new("Globex");

    let answer = raw.put_record(globex.uuid(), &acme.signed()).await;
    assert_eq!((answer.0, code(&answer)), (400, "uuid_mismatch"));

    let client = client_of(&directory);
    assert_eq!(lookup(&client, globex.uuid()).await, None);
    assert_eq!(lookup(&client, acme.uuid()).await, None);
    within("stopping", directory.shutdown()).await.unwrap();
}

#[tokio::test]
async fn records_survive_a_restart_and_one_folder_serves_one_directory() {
    let folder = tempfile::tempdir().unwrap();
    let directory = start_directory(folder.path()).await;
    let acme = Org::new("Acme");
    publish(&client_of(&directory), &acme.signed())
        .await
        .unwrap();

    let second = within(
        "starting a second directory",
        DirectoryServer::start(folder.path(), any_local_port()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(second, DirectoryError::Locked { .. }),
        "{second:?}"
    );
    assert!(second.to_string().contains("already running"), "{second}");

    within("stopping", directory.shutdown()).await.unwrap();
    let restarted = start_directory(folder.path()).await;
    let client = client_of(&restarted);
    assert_eq!(lookup(&client, acme.uuid()).await, Some(acme.signed()));
    // The first claim still holds after the restart.
    let err = publish(&client, &Org::impostor_of(&acme).signed())
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::KeyMismatch { .. }), "{err:?}");
    within("stopping", restarted.shutdown()).await.unwrap();
}

/// A "directory" that answers every lookup with `record`, whatever UUID was asked for.
async fn lying_directory(record: SignedRecord) -> (String, tokio::task::JoinHandle<()>) {
    let dto = RecordDto::from(&record);
    let app = Router::new().route(
        "/v1/instances/{uuid}",
        get(move || {
            let dto = dto.clone();
            async move { Json(dto) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(any_local_port())
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

#[tokio::test]
async fn a_lying_directory_cannot_hand_out_a_forged_record() {
    let acme = Org::new("Acme");
    let mallory = Org::new("Mallory");

    // It answers a lookup for Acme with Mallory's (validly signed) record.
    let (url, liar) = lying_directory(mallory.signed()).await;
    let err = within(
        "looking up",
        DirectoryClient::new(&url).unwrap().lookup(acme.uuid()),
    )
    .await;
    match err {
        Err(DirectoryError::Forged { uuid, source }) => {
            assert_eq!(uuid, acme.uuid());
            assert!(
                matches!(source, RecordError::WrongUuid { .. }),
                "{source:?}"
            );
        }
        other => panic!("expected a forged-record error, got {other:?}"),
    }
    liar.abort();

    // It answers with Acme's own record under a signature that is not Acme's.
    let forged = SignedRecord::from_parts(acme.signed().body, mallory.signed().signature);
    let (url, liar) = lying_directory(forged).await;
    let err = within(
        "looking up",
        DirectoryClient::new(&url).unwrap().lookup(acme.uuid()),
    )
    .await;
    assert!(
        matches!(
            err,
            Err(DirectoryError::Forged {
                source: RecordError::Signature(_),
                ..
            })
        ),
        "{err:?}"
    );
    liar.abort();
}

#[tokio::test]
async fn a_lying_directory_cannot_vouch_for_a_squatter_of_a_derived_uuid() {
    // Nobody has ever pinned a key for Acme's UUID: the UUID itself names the key.
    let acme = Org::derived("Acme");
    let (url, liar) = lying_directory(Org::impostor_of(&acme).signed()).await;
    let err = within(
        "looking up",
        DirectoryClient::new(&url).unwrap().lookup(acme.uuid()),
    )
    .await;
    match err {
        Err(DirectoryError::Forged { uuid, source }) => {
            assert_eq!(uuid, acme.uuid());
            assert_eq!(source, RecordError::NotDerivedFromKey { uuid });
        }
        other => panic!("expected a forged-record error, got {other:?}"),
    }
    liar.abort();
}

#[tokio::test]
async fn a_client_that_floods_the_directory_is_slowed_down() {
    let folder = tempfile::tempdir().unwrap();
    let mut config = DirectoryConfig::new(folder.path(), any_local_port());
    config.rate_limit = Some(RateLimit {
        burst: 3,
        per_minute: 1,
    });
    let directory = within("starting", DirectoryServer::start_with(config))
        .await
        .unwrap();
    let client = client_of(&directory);
    for _ in 0..3 {
        assert_eq!(lookup(&client, InstanceId::generate()).await, None);
    }
    let err = within("looking up", client.lookup(InstanceId::generate())).await;
    assert!(matches!(err, Err(DirectoryError::RateLimited)), "{err:?}");
    let response = within(
        "a GET",
        reqwest::get(format!("http://{}/v1/health", directory.addr)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    within("stopping", directory.shutdown()).await.unwrap();
}
