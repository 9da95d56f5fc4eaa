//! A data folder written by the release before typed tables opens with today's node: the
//! ratchets move out of the channel records into their own table, the history is all there,
//! and both sides (started from the same fixture) still talk in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use ochat_tests::upgrade::write_fixture;

/// Writes `tests/fixtures/data-v0/` again with the node of this checkout. Run it only on the
/// release the fixture stands for (see the fixture's README): `cargo test -p ochat-tests
/// --test upgrade -- --ignored write_the_data_v0_fixture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the committed fixture; run by hand on the release it stands for"]
async fn write_the_data_v0_fixture() {
    let out = ochat_tests::upgrade::fixture_v0();
    let tmp = tempfile::tempdir().unwrap();
    write_fixture(tmp.path()).await.unwrap();
    if out.exists() {
        for who in ["acme", "bolt"] {
            let _ = std::fs::remove_dir_all(out.join(who));
        }
    }
    for who in ["acme", "bolt"] {
        ochat_tests::upgrade::copy_folder(&tmp.path().join(who), &out.join(who)).unwrap();
        // The lock and the API address belong to a running node, not to the data.
        for gone in ["ochat.lock", "api.addr"] {
            let _ = std::fs::remove_file(out.join(who).join(gone));
        }
    }
}
